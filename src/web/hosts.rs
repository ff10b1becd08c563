//! Requests must name this site and, when they change something, come from its own pages.
//!
//! - **Host** (DNS rebinding): a page on another site can make a browser send requests to
//!   127.0.0.1 under the other site's name. A server on a loopback address answers only to
//!   loopback names (`localhost`, `127.0.0.1`, `[::1]`) and the names in `JURY_ALLOWED_HOSTS`;
//!   one on another address, to the names listed there, when there are any.
//! - **Origin**: a write (POST, PUT, PATCH, DELETE) whose `Origin` is another origin, or that
//!   the browser marks as not same-origin (`Sec-Fetch-Site`), is refused, whatever its token.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, PageError, WebError};
use super::state::AppState;

#[derive(Clone, Debug)]
pub struct HostCheck {
    /// Lower-case host names (no port) the site answers to; empty: any.
    allowed: Vec<String>,
    loopback: bool,
}

impl HostCheck {
    pub fn new(addr: SocketAddr, extra: &[String]) -> HostCheck {
        let loopback = addr.ip().is_loopback();
        let mut allowed: Vec<String> = extra
            .iter()
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if loopback || !allowed.is_empty() {
            allowed.push(addr.ip().to_string());
        }
        HostCheck { allowed, loopback }
    }

    /// Whether Host headers are checked at all.
    pub fn checks(&self) -> bool {
        self.loopback || !self.allowed.is_empty()
    }

    fn allows(&self, host: &str) -> bool {
        if !self.checks() {
            return true;
        }
        let name = host_name(host);
        if self.loopback && is_loopback_name(&name) {
            return true;
        }
        self.allowed.contains(&name)
    }
}

/// The host of a `Host` header value, lower case, without port or brackets.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_string();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name.trim_end_matches('.').to_string(),
        _ => host.trim_end_matches('.').to_string(),
    }
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `scheme://host[:port]` → `host[:port]`, lower case.
fn origin_authority(origin: &str) -> Option<String> {
    let rest = origin.split_once("://")?.1;
    Some(rest.trim_end_matches('/').to_ascii_lowercase())
}

pub async fn check_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let refusal = if !state.hosts.allows(&host) {
        Some(format!("this server does not answer to the host {host:?}; add it to JURY_ALLOWED_HOSTS if it should"))
    } else if is_write(request.method()) {
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let foreign_origin = origin.is_some_and(|o| origin_authority(o) != Some(host.to_ascii_lowercase()));
        let foreign_fetch = fetch_site.is_some_and(|s| s != "same-origin" && s != "none");
        (foreign_origin || foreign_fetch).then(|| "a change to this site must come from its own pages".to_string())
    } else {
        None
    };
    match refusal {
        None => next.run(request).await,
        Some(message) if request.uri().path().starts_with("/api/") => {
            ApiError(WebError::Forbidden(message)).into_response()
        }
        Some(message) => PageError(WebError::Forbidden(message)).into_response(),
    }
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_servers_answer_to_loopback_names_only() {
        let check = HostCheck::new("127.0.0.1:8080".parse().unwrap(), &[]);
        for host in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "app.localhost:80", "127.0.0.2"] {
            assert!(check.allows(host), "{host}");
        }
        for host in ["evil.example:8080", "evil.example", "127.0.0.1.evil.example", ""] {
            assert!(!check.allows(host), "{host}");
        }
    }

    #[test]
    fn listed_hosts_are_allowed() {
        let check = HostCheck::new("0.0.0.0:80".parse().unwrap(), &["jury.example.org".into()]);
        assert!(check.allows("jury.example.org"));
        assert!(check.allows("Jury.Example.Org:443"));
        assert!(!check.allows("other.example.org"));
        let open = HostCheck::new("0.0.0.0:80".parse().unwrap(), &[]);
        assert!(open.allows("anything.example"));
    }

    #[test]
    fn origins() {
        assert_eq!(origin_authority("http://127.0.0.1:8080").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(origin_authority("null"), None);
    }
}

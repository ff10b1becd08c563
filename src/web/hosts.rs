//! Requests must name this site and, when they change something, come from its own pages.
//!
//! - **Host** (DNS rebinding): a page on another site can point its own name at this server and
//!   have a visitor's browser send it requests that look same-origin. So a request must name the
//!   server by an IP address, a loopback name (`localhost`) or a name listed in
//!   `JURY_ALLOWED_HOSTS`. Only a server with an admin token and no list answers to any name:
//!   there a rebound page can read what is public anyway, and cannot write without the token.
//! - **Origin**: a write (POST, PUT, PATCH, DELETE) whose `Origin` is another origin, or that
//!   the browser marks as not same-origin (`Sec-Fetch-Site`), is refused, whatever it carries.
//!
//! Behind a trusted reverse proxy (`--client-ip-header`), the host the browser asked for is the
//! proxy's `X-Forwarded-Host` when it sends one.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, PageError, WebError};
use super::state::AppState;

#[derive(Clone, Debug)]
pub struct HostCheck {
    /// Lower-case host names (no port) the site answers to besides IP addresses and loopback names.
    allowed: Vec<String>,
    /// Any name is answered to (an admin token guards writes, and no list was given).
    any_name: bool,
    /// Believe `X-Forwarded-Host` (a trusted proxy is in front).
    behind_proxy: bool,
}

impl HostCheck {
    pub fn new(extra: &[String], admin_token: bool, behind_proxy: bool) -> HostCheck {
        let allowed: Vec<String> = extra
            .iter()
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        HostCheck { any_name: admin_token && allowed.is_empty(), allowed, behind_proxy }
    }

    /// Whether names other than IP addresses and loopback names are refused unless listed.
    pub fn checks_names(&self) -> bool {
        !self.any_name
    }

    fn allows(&self, host: &str) -> bool {
        let name = host_name(host);
        self.any_name
            || name.parse::<IpAddr>().is_ok()
            || name == "localhost"
            || name.ends_with(".localhost")
            || self.allowed.contains(&name)
    }

    /// The host the browser asked for.
    fn requested_host(&self, headers: &HeaderMap) -> String {
        let get = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
        };
        let forwarded = if self.behind_proxy { get("x-forwarded-host").filter(|h| !h.is_empty()) } else { None };
        forwarded.or_else(|| get(header::HOST.as_str())).unwrap_or_default()
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

/// `scheme://host[:port]` → `host[:port]`, lower case.
fn origin_authority(origin: &str) -> Option<String> {
    let rest = origin.split_once("://")?.1;
    Some(rest.trim_end_matches('/').to_ascii_lowercase())
}

pub async fn check_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = state.hosts.requested_host(headers);
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
    fn without_a_token_only_addresses_loopback_and_listed_names_are_answered() {
        let check = HostCheck::new(&[], false, false);
        for host in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "app.localhost:80", "10.1.2.3"] {
            assert!(check.allows(host), "{host}");
        }
        for host in ["evil.example:8080", "evil.example", "127.0.0.1.evil.example", ""] {
            assert!(!check.allows(host), "{host}");
        }
        let listed = HostCheck::new(&["jury.example.org".into()], false, false);
        assert!(listed.allows("Jury.Example.Org:443") && listed.allows("192.168.1.5:8080"));
        assert!(!listed.allows("other.example.org"));
    }

    #[test]
    fn with_a_token_and_no_list_any_name_is_answered() {
        assert!(HostCheck::new(&[], true, false).allows("anything.example"));
        assert!(!HostCheck::new(&["jury.example.org".into()], true, false).allows("anything.example"));
    }

    #[test]
    fn a_trusted_proxy_names_the_host_asked_for() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        headers.insert("x-forwarded-host", "jury.example.org".parse().unwrap());
        assert_eq!(HostCheck::new(&[], false, true).requested_host(&headers), "jury.example.org");
        assert_eq!(HostCheck::new(&[], false, false).requested_host(&headers), "127.0.0.1:8080");
    }

    #[test]
    fn origins() {
        assert_eq!(origin_authority("http://127.0.0.1:8080").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(origin_authority("null"), None);
    }
}

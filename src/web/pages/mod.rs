//! HTML pages, rendered on the server (askama, escaped), usable without JavaScript.

pub mod auth;
pub mod battles;
pub mod evals;
pub mod judges;
pub mod leaderboard;
pub mod perf;
pub mod questions;
pub mod runs;
pub mod safety;
pub mod vote;

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use super::error::PageError;
pub use super::nav::Nav;
use super::security::{SESSION_COOKIE, cookie, new_session_id, set_cookie};
use super::state::AppState;

/// A form whose only field is its token (sign-out, delete, cancel), read by `CsrfForm`.
#[derive(serde::Deserialize)]
pub struct TokenOnly {}

/// The frame of a page, and the session cookie to set if the visitor has none yet.
pub fn nav(state: &AppState, headers: &HeaderMap, active: &'static str) -> (Nav, Option<HeaderValue>) {
    let (session, new_cookie) = match cookie(headers, SESSION_COOKIE) {
        Some(s) if s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit()) => (s, None),
        _ => {
            let s = new_session_id();
            let c = set_cookie(SESSION_COOKIE, &s, None, state.proxy.secure(headers));
            (s, Some(c))
        }
    };
    let nav = Nav {
        active,
        csrf: state.secrets.csrf_token(&session),
        admin_enabled: state.admin.enabled(),
        signed_in: state.admin.enabled() && state.admin.signed_in(headers, &state.secrets),
    };
    (nav, new_cookie)
}

/// Renders a page, setting the session cookie when needed.
pub fn page(template: impl Template, cookie: Option<HeaderValue>) -> Result<Response, PageError> {
    let mut response = Html(template.render()?).into_response();
    if let Some(c) = cookie {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(response)
}

/// "x minutes ago" for a Unix time.
pub fn ago(unix: f64) -> String {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(unix);
    let s = (now - unix).max(0.0) as u64;
    match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86399 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86400),
    }
}

/// A Unix time as an HTTP date (UTC), for tooltips.
pub fn date(unix: f64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0.0) as u64))
}

/// A small model of pagination links.
#[derive(Debug, Clone)]
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    pub fn new(page: i64, per_page: i64, total: i64, link: impl Fn(i64) -> String) -> Pager {
        let pages = ((total + per_page - 1) / per_page).max(1);
        Pager {
            page,
            pages,
            total,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
        }
    }
}

/// A query or form switch: `1`, `true` or `on` (a ticked checkbox).
pub fn is_on(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("1" | "true" | "on"))
}

/// Builds a query string from the non-empty pairs.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            s.append_pair(k, v);
        }
    }
    let q = s.finish();
    if q.is_empty() { q } else { format!("?{q}") }
}

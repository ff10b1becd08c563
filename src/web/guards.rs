//! Who may do what, as extractors: a handler names the guard in its arguments and never runs
//! when the guard refuses.
//!
//! - [`AdminApi`]: an API write (upload, delete, run). With an admin token configured it needs
//!   `Authorization: Bearer TOKEN`; always it needs a header no other site's page can send
//!   without the browser asking first ([`API_WRITE_HEADER`], or the bearer token itself).
//! - [`ApiWrite`]: the same cross-site check for writes open to everyone (votes).
//! - [`AdminPage`]: a page write; needs the sign-in cookie when a token is configured.
//! - [`CsrfForm<T>`]: a form body whose `csrf` field matches the session cookie.
//! - [`ClientIp`]: the client's address, from the trusted proxy's header when one is configured.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Form, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{ApiError, PageError, WebError};
use super::security::check_csrf;
use super::state::AppState;

/// Scripts send this header (any value) with every state-changing API call. A cross-site form
/// cannot set it, and a cross-site script that tries makes the browser ask first (CORS), which
/// jury never allows.
pub const API_WRITE_HEADER: &str = "x-requested-with";

/// Forms are small; uploads go through multipart with their own limit.
const FORM_LIMIT: usize = 256 * 1024;

pub struct AdminApi;

impl FromRequestParts<AppState> for AdminApi {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // With a token configured the bearer header is required, and it is itself a header no
        // cross-site form can send.
        state.admin.check_bearer(&parts.headers)?;
        ApiWrite::from_request_parts(parts, state).await?;
        Ok(AdminApi)
    }
}

pub struct ApiWrite;

impl FromRequestParts<AppState> for ApiWrite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, ApiError> {
        let has = |name| parts.headers.get(name).is_some_and(|v| !v.is_empty());
        // Only a bearer token: browsers attach Basic credentials (a proxy's) to any request.
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
        if has(API_WRITE_HEADER) || bearer {
            Ok(ApiWrite)
        } else {
            Err(WebError::Forbidden(format!(
                "API writes need an `{API_WRITE_HEADER}` header (any value) or `Authorization: Bearer TOKEN`, \
                 so that no other site can make them through a visitor's browser"
            ))
            .into())
        }
    }
}

pub struct AdminPage;

impl FromRequestParts<AppState> for AdminPage {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        state.admin.check_cookie(&parts.headers, &state.secrets)?;
        Ok(AdminPage)
    }
}

/// A form whose token was checked; `T` is read from the same body (`csrf` is ignored there,
/// or may be a field of `T` too).
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|_| WebError::BadRequest("the form is too large or broke off".into()))?;
        let token = url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        check_csrf(&parts.headers, &state.secrets, &token)?;
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        let Form(value) = Form::<T>::from_request(request, state)
            .await
            .map_err(|e| WebError::BadRequest(format!("unreadable form: {}", e.body_text())))?;
        Ok(CsrfForm(value))
    }
}

/// The client's address. Behind a reverse proxy every connection comes from the proxy, so
/// with `--client-ip-header` the address is read from that header instead: the last entry of
/// `X-Forwarded-For` (the one the trusted proxy added), or the value of a single-address
/// header such as `X-Real-IP`. Without the header set, it is the connection's address.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let socket = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let forwarded = state.proxy.client_ip_header.as_deref().and_then(|name| {
            let value = parts.headers.get_all(name).iter().rev().find_map(|v| v.to_str().ok())?;
            value.rsplit(',').next().and_then(|last| parse_ip(last.trim()))
        });
        forwarded
            .or(socket)
            .map(ClientIp)
            .ok_or_else(|| WebError::Internal("the connection has no peer address".into()).into())
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`.
fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| text.trim_start_matches('[').trim_end_matches(']').parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_forwarding_headers() {
        assert_eq!(parse_ip("203.0.113.7"), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(parse_ip("203.0.113.7:4711"), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(parse_ip("[2001:db8::1]:80"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_ip("[2001:db8::1]"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_ip("unknown"), None);
    }
}

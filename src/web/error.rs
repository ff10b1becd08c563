//! Errors of the web layer: JSON for the API (`{"error": …}`, or `{"errors": [{line, message}]}`
//! for rejected uploads), a styled page for browsers. Internal details are logged, never sent.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::input::BadInput;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    /// Every problem found in an upload, by line.
    #[error("the file was rejected")]
    Rejected(BadInput),
    #[error("sign in with the admin token to do this")]
    Unauthorized,
    #[error("the form is out of date or came from another site; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    Conflict(String),
    #[error("too many {0}; try again in {1} seconds")]
    TooManyRequests(&'static str, u64),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    UnsupportedType(String),
    #[error("something went wrong on the server")]
    Internal(String),
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(format!("template: {e}"))
    }
}

impl WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) | WebError::Rejected(_) => StatusCode::BAD_REQUEST,
            WebError::Unauthorized => StatusCode::UNAUTHORIZED,
            WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::UnsupportedType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn log(&self) {
        if let WebError::Internal(detail) = self {
            tracing::error!("{detail}");
        }
    }

    fn retry_after(&self, response: &mut Response) {
        if let WebError::TooManyRequests(_, seconds) = self
            && let Ok(v) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }

    /// The upload problems as `{line, message}` pairs.
    fn lines(&self) -> Vec<(Option<usize>, String)> {
        match self {
            WebError::Rejected(bad) => bad
                .problems
                .iter()
                .map(|p| {
                    let message = match &p.key_path {
                        Some(k) => format!("{k}: {}", p.message),
                        None => p.message.clone(),
                    };
                    (p.line, message)
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// An error answered as JSON.
pub struct ApiError(pub WebError);

/// An error answered as a page.
pub struct PageError(pub WebError);

macro_rules! wraps {
    ($outer:ident) => {
        impl From<WebError> for $outer {
            fn from(e: WebError) -> Self {
                $outer(e)
            }
        }
        impl From<StoreError> for $outer {
            fn from(e: StoreError) -> Self {
                $outer(e.into())
            }
        }
        impl From<askama::Error> for $outer {
            fn from(e: askama::Error) -> Self {
                $outer(e.into())
            }
        }
    };
}

wraps!(ApiError);
wraps!(PageError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let body = match &e {
            WebError::Rejected(_) => json!({
                "error": e.to_string(),
                "errors": e.lines().into_iter().map(|(line, message)| json!({"line": line, "message": message})).collect::<Vec<_>>(),
            }),
            _ => json!({"error": e.to_string()}),
        };
        let mut response = (e.status(), axum::Json(body)).into_response();
        e.retry_after(&mut response);
        response
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: String,
    lines: Vec<(Option<usize>, String)>,
    nav: super::nav::Nav,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let status = e.status();
        let page = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message: e.to_string(),
            lines: e.lines(),
            nav: super::nav::Nav::default(),
        };
        let body = page.render().unwrap_or_else(|_| format!("{} {}", status.as_u16(), e));
        let mut response = (status, Html(body)).into_response();
        e.retry_after(&mut response);
        response
    }
}

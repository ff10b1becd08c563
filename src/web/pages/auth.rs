//! Signing in with the admin token (for pages; the API uses `Authorization: Bearer`).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Nav, TokenOnly, nav, page};
use crate::web::error::{PageError, WebError};
use crate::web::guards::{ClientIp, CsrfForm};
use crate::web::security::{ADMIN_COOKIE, set_cookie};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    failed: bool,
}

pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let (nav, cookie) = nav(&state, &headers, "");
    page(LoginPage { nav, failed: false }, cookie)
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, PageError> {
    if !state.admin.enabled() {
        return Ok(Redirect::to("/").into_response());
    }
    // Every attempt counts, so a token cannot be guessed at speed.
    state.limits.logins.check(client)?;
    if !state.admin.token_matches(form.token.trim()) {
        let (nav, cookie) = nav(&state, &headers, "");
        let mut response = page(LoginPage { nav, failed: true }, cookie)?;
        *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
        return Ok(response);
    }
    let value = state.admin.cookie_value(&state.secrets).ok_or(WebError::Unauthorized)?;
    let mut response = Redirect::to("/").into_response();
    let secure = state.proxy.secure(&headers);
    response.headers_mut().append(header::SET_COOKIE, set_cookie(ADMIN_COOKIE, &value, Some(7 * 24 * 3600), secure));
    Ok(response)
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    _: CsrfForm<TokenOnly>,
) -> Result<Response, PageError> {
    let mut response = Redirect::to("/").into_response();
    let secure = state.proxy.secure(&headers);
    response.headers_mut().append(header::SET_COOKIE, set_cookie(ADMIN_COOKIE, "", Some(0), secure));
    Ok(response)
}

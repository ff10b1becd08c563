//! Who may call `/v1`: a key from `JURY_API_KEYS` as a Bearer token, or, when no keys are set,
//! clients on this machine only (as writes without an admin token).

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::OpenAiError;
use crate::web::guards::ClientIp;
use crate::web::security::same_secret;
use crate::web::state::AppState;

/// A caller allowed to use the models.
pub struct ApiCaller;

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = OpenAiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, OpenAiError> {
        let keys = &state.served.api_keys;
        if keys.is_empty() {
            let ip = ClientIp::from_request_parts(parts, state)
                .await
                .map_err(|_| OpenAiError::new(StatusCode::FORBIDDEN, "permission_error", "no client address"))?;
            return if ip.0.is_loopback() {
                Ok(ApiCaller)
            } else {
                Err(OpenAiError::new(
                    StatusCode::FORBIDDEN,
                    "permission_error",
                    "this server takes model requests from its own machine only; set JURY_API_KEYS to allow others",
                ))
            };
        }
        let given = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match given {
            Some(key) if keys.iter().any(|k| same_secret(k, key)) => Ok(ApiCaller),
            _ => Err(OpenAiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "a valid API key is needed (Authorization: Bearer KEY)",
            )),
        }
    }
}

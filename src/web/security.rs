//! Cookies, CSRF tokens, the admin token and voter keys.
//!
//! Every page visit gets a random session cookie; forms carry an HMAC of it (CSRF). With an
//! admin token configured, writes need it: the API as `Authorization: Bearer`, pages through a
//! sign-in that sets an HttpOnly cookie holding an HMAC of the token (never the token itself).

use axum::http::{HeaderMap, HeaderValue, header};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::error::WebError;

pub const SESSION_COOKIE: &str = "jury_session";
pub const ADMIN_COOKIE: &str = "jury_admin";

type HmacSha256 = Hmac<Sha256>;

/// Server secrets, fresh at every start (sessions and forms do not outlive the process).
#[derive(Clone)]
pub struct Secrets {
    key: [u8; 32],
}

impl Secrets {
    #[cfg(test)]
    pub fn random() -> Secrets {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Secrets { key }
    }

    /// The key every server on the database shares, so replicas accept each other's sessions.
    pub fn shared(key: [u8; 32]) -> Secrets {
        Secrets { key }
    }

    fn mac(&self, purpose: &str, value: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("any key length works");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        mac
    }

    pub fn sign(&self, purpose: &str, value: &str) -> String {
        hex::encode(self.mac(purpose, value).finalize().into_bytes())
    }

    /// Constant-time check of a signature made by [`Secrets::sign`].
    pub fn verify(&self, purpose: &str, value: &str, signature: &str) -> bool {
        match hex::decode(signature) {
            Ok(bytes) => self.mac(purpose, value).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    /// The CSRF token of a session.
    pub fn csrf_token(&self, session: &str) -> String {
        self.sign("csrf", session)
    }

    /// A stable, anonymous key for a voter (its address is never stored).
    pub fn voter_key(&self, client: &str) -> String {
        self.sign("voter", client)[..16].to_string()
    }
}

/// The value of a cookie in the request.
/// Whether `given` is `secret`, comparing digests so the time taken says nothing about how much
/// of it was right.
pub fn same_secret(secret: &str, given: &str) -> bool {
    use sha2::Digest;
    Sha256::digest(secret.as_bytes()) == Sha256::digest(given.as_bytes())
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, for the whole site; `Secure` when the
/// site is served over HTTPS.
pub fn set_cookie(name: &str, value: &str, max_age_seconds: Option<u64>, secure: bool) -> HeaderValue {
    let age = max_age_seconds.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{age}{secure}"))
        .expect("cookie values are hex")
}

/// Who may write.
#[derive(Clone)]
pub struct AdminGate {
    token: Option<String>,
}

impl AdminGate {
    pub fn new(token: Option<String>) -> AdminGate {
        AdminGate { token: token.filter(|t| !t.trim().is_empty()) }
    }

    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }

    fn matches(&self, given: &str) -> bool {
        self.token.as_deref().is_none_or(|t| same_secret(t, given))
    }

    pub fn token_matches(&self, given: &str) -> bool {
        self.token.is_some() && self.matches(given)
    }

    /// API writes: the bearer token, when one is configured.
    pub fn check_bearer(&self, headers: &HeaderMap) -> Result<(), WebError> {
        if self.token.is_none() {
            return Ok(());
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if self.matches(given.trim()) { Ok(()) } else { Err(WebError::Unauthorized) }
    }

    /// Page writes: the sign-in cookie, when a token is configured.
    pub fn check_cookie(&self, headers: &HeaderMap, secrets: &Secrets) -> Result<(), WebError> {
        if self.signed_in(headers, secrets) { Ok(()) } else { Err(WebError::Unauthorized) }
    }

    pub fn signed_in(&self, headers: &HeaderMap, secrets: &Secrets) -> bool {
        match &self.token {
            None => true,
            Some(token) => cookie(headers, ADMIN_COOKIE).is_some_and(|c| secrets.verify("admin", token, &c)),
        }
    }

    /// The cookie value proving a sign-in.
    pub fn cookie_value(&self, secrets: &Secrets) -> Option<String> {
        self.token.as_ref().map(|t| secrets.sign("admin", t))
    }
}

/// Checks a form's CSRF token against the session cookie.
pub fn check_csrf(headers: &HeaderMap, secrets: &Secrets, token: &str) -> Result<(), WebError> {
    let session = cookie(headers, SESSION_COOKIE).ok_or(WebError::Csrf)?;
    if secrets.verify("csrf", &session, token) { Ok(()) } else { Err(WebError::Csrf) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_bind_to_the_session() {
        let s = Secrets::random();
        let t = s.csrf_token("abc");
        assert!(s.verify("csrf", "abc", &t));
        assert!(!s.verify("csrf", "abd", &t));
        assert!(!Secrets::random().verify("csrf", "abc", &t));
        assert!(!s.verify("csrf", "abc", "zz"));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; jury_session=xyz; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}

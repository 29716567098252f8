//! Who is calling: a bearer API token or a session cookie, and what they may do in the
//! administration a request touches.

use crate::AppState;
use crate::error::ApiError;
use crate::external::ExternalBase;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use koppel_domain::AdministrationId;
use koppel_domain::rights::{Right, Rights};
use koppel_store::platform::{Administration, User};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const SESSION_COOKIE: &str = "koppel_session";

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Session,
    ApiToken,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub method: AuthMethod,
}

/// The value of a cookie in the request, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether a request comes from our own pages. Browsers send `Sec-Fetch-Site` and `Origin`; a
/// cross-site request (or one from an opaque `null` origin) is not. Our own origin is the external
/// address of the request: `http.public_url` when configured (behind a proxy that does not pass
/// the original `Host`), else the host a trusted proxy forwarded, else `Host`.
pub fn same_origin(headers: &HeaderMap, external: &ExternalBase) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.to_str().is_ok_and(|origin| external.matches_origin(origin));
    }
    true
}

/// The credentials of an `Authorization` value in `scheme` (compared case-insensitively, as
/// RFC 9110 §11.1 says), or `None` for another scheme.
pub fn credentials_of<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, credentials) = value.trim_start().split_once([' ', '\t'])?;
    given.eq_ignore_ascii_case(scheme).then(|| credentials.trim())
}

/// A cookie-authenticated request that changes something must come from our own pages.
fn check_same_origin(parts: &Parts, state: &AppState) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        || same_origin(&parts.headers, &ExternalBase::of_parts(parts, state))
    {
        return Ok(());
    }
    Err(ApiError::forbidden(
        "cross-site requests with a session cookie are not accepted",
    ))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let store = &state.store;
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| credentials_of(v, "bearer"));
        let (user_id, method) = if let Some(token) = bearer {
            let user = store.authenticate_api_token(token.trim()).await?.ok_or_else(|| {
                ApiError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "the API token is unknown or was revoked",
                )
            })?;
            (user, AuthMethod::ApiToken)
        } else if let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) {
            let user = store.session_user(secret).await?.ok_or_else(|| {
                ApiError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    "session_expired",
                    "your session has ended; log in again",
                )
            })?;
            check_same_origin(parts, state)?;
            (user, AuthMethod::Session)
        } else {
            return Err(ApiError::unauthorized());
        };
        let user = store.user(user_id).await?;
        Ok(Caller { user, method })
    }
}

impl Caller {
    /// The caller's rights in an administration. No access at all answers 404, so administrations
    /// of other customers cannot be discovered; access without the right answers 403.
    pub async fn require(
        &self,
        state: &AppState,
        administration: AdministrationId,
        right: Right,
    ) -> Result<(Administration, Rights), ApiError> {
        let rights = state
            .store
            .rights(self.user.id, administration)
            .await?
            .ok_or_else(|| ApiError::not_found("administration"))?;
        let found = state.store.administration(administration).await?;
        if !rights.has(right) {
            return Err(ApiError::forbidden(format!(
                "you need the right '{}' in administration '{}'",
                right.as_str(),
                found.name
            )));
        }
        Ok((found, rights))
    }

    /// A feature of an administration: the caller's right there and the environment's licence for it.
    pub async fn require_feature(
        &self,
        state: &AppState,
        administration: AdministrationId,
        right: Right,
        power_up: koppel_domain::licence::PowerUp,
    ) -> Result<Administration, ApiError> {
        let (found, _) = self.require(state, administration, right).await?;
        state.store.require_licence(found.environment_id, power_up).await?;
        Ok(found)
    }

    /// The caller's environment's main administration, with a right held there. Environment-wide
    /// management (subs, users, licences) is done from the main.
    pub async fn require_on_main(&self, state: &AppState, right: Right) -> Result<Administration, ApiError> {
        let main = state
            .store
            .administrations(self.user.environment_id)
            .await?
            .into_iter()
            .find(|a| a.is_main)
            .ok_or_else(|| ApiError::not_found("main administration"))?;
        self.require(state, main.id, right).await.map(|(main, _)| main)
    }
}

/// Failed logins per e-mail address: after five in fifteen minutes, further attempts wait.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    const MAX_FAILURES: u32 = 5;
    const WINDOW: Duration = Duration::from_secs(15 * 60);

    /// `Err(seconds to wait)` when this address is locked out.
    pub fn check(&self, email: &str) -> Result<(), u64> {
        let failures = self.failures.lock().expect("limiter lock");
        match failures.get(&email.trim().to_lowercase()) {
            Some((count, since)) if *count >= Self::MAX_FAILURES && since.elapsed() < Self::WINDOW => {
                Err((Self::WINDOW - since.elapsed()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, email: &str) {
        let mut failures = self.failures.lock().expect("limiter lock");
        let entry = failures
            .entry(email.trim().to_lowercase())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= Self::WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        if failures.len() > 100_000 {
            failures.retain(|_, (_, since)| since.elapsed() < Self::WINDOW);
        }
    }

    pub fn succeeded(&self, email: &str) {
        self.failures
            .lock()
            .expect("limiter lock")
            .remove(&email.trim().to_lowercase());
    }
}

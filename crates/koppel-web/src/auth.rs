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
use koppel_store::{Store, StoreError};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

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

/// The login throttle: failed logins are counted per e-mail address from one client address, per
/// client address (any e-mail) and per e-mail address (any client), in the database (see
/// `koppel_store::logins`), so the counts survive restarts and are shared by every node.
///
/// Each count has a number of free failures; past it every further attempt under that count waits
/// 15 s after the last failure, then 30 s, 1 min, … up to 15 minutes (answered with 429 and
/// `Retry-After`, without checking the password). A count is forgotten an hour after its last
/// failure; a successful login clears the e-mail's counts (not the client address's).
///
/// | count | free failures | then |
/// |---|---|---|
/// | e-mail from one client address | 5 | 15 s, 30 s, 1 min … 15 min |
/// | client address, any e-mail | 20 | 15 s, 30 s, 1 min … 15 min |
/// | e-mail, any client address | 50 | 15 s, 30 s, 1 min … 15 min |
///
/// So guessing one user's password from one address slows down after 5 tries, one password tried
/// against many e-mail addresses slows down after 20, and the real user on another client address
/// (who has no failures of her own there) gets in unless an attack spread over many addresses
/// made 50 failures on her e-mail address; even then she waits a backoff, never a fixed lock-out.
#[derive(Debug, Default)]
pub struct LoginLimiter;

/// One limit of the [`LoginLimiter`].
struct Limit {
    free_failures: i64,
}

const PAIR_LIMIT: Limit = Limit { free_failures: 5 };
const ADDRESS_LIMIT: Limit = Limit { free_failures: 20 };
const EMAIL_LIMIT: Limit = Limit { free_failures: 50 };

impl LoginLimiter {
    /// The wait after the first failure past the free ones; it doubles with every further failure.
    pub const FIRST_DELAY: Duration = Duration::from_secs(15);
    /// The longest wait between two attempts under one count.
    pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
    /// A count is forgotten this long after its last failure.
    pub const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

    /// The counts an attempt is under, with their limits.
    fn keys(email: &str, address: Option<IpAddr>) -> Vec<(String, &'static Limit)> {
        let email = email.trim().to_lowercase();
        let mut keys = vec![(format!("email:{email}"), &EMAIL_LIMIT)];
        if let Some(address) = address {
            keys.push((format!("address:{address}"), &ADDRESS_LIMIT));
            keys.push((format!("email-from:{address}:{email}"), &PAIR_LIMIT));
        }
        keys
    }

    fn forget_before(store: &Store) -> chrono::DateTime<chrono::Utc> {
        store.now() - chrono::Duration::from_std(Self::FORGET_AFTER).unwrap_or(chrono::Duration::hours(1))
    }

    /// How long the wait after `failures` failures is, under a limit.
    fn delay(limit: &Limit, failures: i64) -> Duration {
        if failures < limit.free_failures {
            return Duration::ZERO;
        }
        let doublings = u32::try_from(failures - limit.free_failures)
            .unwrap_or(u32::MAX)
            .min(20);
        Self::FIRST_DELAY.saturating_mul(1 << doublings).min(Self::MAX_DELAY)
    }

    /// `Ok(Err(seconds to wait))` when this attempt must wait before the password is looked at.
    pub async fn check(
        &self,
        store: &Store,
        email: &str,
        address: Option<IpAddr>,
    ) -> Result<Result<(), u64>, StoreError> {
        let keys = Self::keys(email, address);
        let names: Vec<String> = keys.iter().map(|(key, _)| key.clone()).collect();
        let counts = store.login_failures(&names, Self::forget_before(store)).await?;
        let now = store.now();
        let mut wait = Duration::ZERO;
        for ((_, limit), count) in keys.iter().zip(counts) {
            let Some(count) = count else { continue };
            let until = count.last_failure_at
                + chrono::Duration::from_std(Self::delay(limit, count.failures)).unwrap_or(chrono::Duration::zero());
            if let Ok(left) = (until - now).to_std() {
                wait = wait.max(left);
            }
        }
        if wait.is_zero() {
            Ok(Ok(()))
        } else {
            Ok(Err(wait.as_secs_f64().ceil().max(1.0) as u64))
        }
    }

    pub async fn failed(&self, store: &Store, email: &str, address: Option<IpAddr>) -> Result<(), StoreError> {
        let names: Vec<String> = Self::keys(email, address).into_iter().map(|(key, _)| key).collect();
        store.record_login_failure(&names, Self::forget_before(store)).await
    }

    /// Clears the e-mail's counts; the client address's count stays, so logging in to an account
    /// of one's own does not reset a spraying address.
    pub async fn succeeded(&self, store: &Store, email: &str, address: Option<IpAddr>) -> Result<(), StoreError> {
        let names: Vec<String> = Self::keys(email, address)
            .into_iter()
            .map(|(key, _)| key)
            .filter(|key| !key.starts_with("address:"))
            .collect();
        store.clear_login_failures(&names).await
    }
}

/// The client's address, for login throttling: the TCP peer, unless the peer is a proxy Koppel
/// believes. With `http.trusted_proxies` set, those are believed, and the client is the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy (every proxy appends the address it
/// saw, so entries further left are the client's own claims). Without it, only a proxy on this
/// machine (a loopback peer) is believed, and its last entry is taken. `None` when the server did
/// not record the peer.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(parts, &state.config.trusted_proxies)))
    }
}

fn client_address(parts: &Parts, trusted: &crate::external::TrustedProxies) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())?;
    let believed = |address: IpAddr| {
        if trusted.is_empty() {
            address.is_loopback()
        } else {
            trusted.contains(address)
        }
    };
    if !believed(peer) {
        return Some(peer);
    }
    let chain: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|entry| entry.trim().parse::<IpAddr>().ok())
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    if trusted.is_empty() {
        return Some(chain.last().copied().unwrap_or(peer));
    }
    Some(
        chain
            .iter()
            .rev()
            .copied()
            .find(|address| !trusted.contains(*address))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::client_address;
    use crate::external::TrustedProxies;
    use axum::http::Request;
    use std::net::{IpAddr, SocketAddr};

    fn parts(peer: &str, forwarded_for: Option<&str>) -> axum::http::request::Parts {
        let mut builder = Request::builder().uri("/login");
        if let Some(value) = forwarded_for {
            builder = builder.header("x-forwarded-for", value);
        }
        let (mut parts, ()) = builder.body(()).expect("request").into_parts();
        let peer: SocketAddr = peer.parse().expect("peer");
        parts.extensions.insert(axum::extract::ConnectInfo(peer));
        parts
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("address"))
    }

    #[test]
    fn forwarded_addresses_count_only_from_believed_proxies() {
        let none = TrustedProxies::default();
        // A remote peer's header is the client's own claim: ignored.
        assert_eq!(
            client_address(&parts("203.0.113.9:5000", Some("198.51.100.1")), &none),
            ip("203.0.113.9")
        );
        // A proxy on this machine is believed when nothing is configured.
        assert_eq!(
            client_address(&parts("127.0.0.1:5000", Some("198.51.100.1, 198.51.100.2")), &none),
            ip("198.51.100.2")
        );
        let trusted = TrustedProxies::parse(&["10.0.0.0/8"]).expect("ranges");
        // Configured proxies: the right-most entry that is not one of them; a client's forged
        // left-most entry does not count.
        assert_eq!(
            client_address(
                &parts("10.0.0.5:5000", Some("1.2.3.4, 198.51.100.7, 10.0.0.9")),
                &trusted
            ),
            ip("198.51.100.7")
        );
        // With proxies configured, loopback is no longer believed by default.
        assert_eq!(
            client_address(&parts("127.0.0.1:5000", Some("198.51.100.1")), &trusted),
            ip("127.0.0.1")
        );
        // A garbled header falls back to the peer.
        assert_eq!(
            client_address(&parts("10.0.0.5:5000", Some("not-an-address")), &trusted),
            ip("10.0.0.5")
        );
    }
}

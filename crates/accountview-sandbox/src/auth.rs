//! Who is calling the Web API: the bearer token checked against issued tokens, and for data calls the
//! `x-company` administration checked against the user's, the rate limit and the offline flag.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::errors::AvError;
use crate::state::Shared;

/// The header that selects the administration of a data call.
pub const COMPANY_HEADER: &str = "x-company";

/// The SHA-256 of a code or token, under which it is stored.
pub fn fingerprint(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// An authenticated caller of the Web API.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: String,
    pub client_id: String,
    pub scope: Vec<String>,
}

impl Caller {
    pub fn require_scope(&self, scope: &str) -> Result<(), AvError> {
        if self.scope.iter().any(|granted| granted == scope) {
            Ok(())
        } else {
            Err(AvError::insufficient_scope(scope))
        }
    }
}

impl FromRequestParts<Arc<Shared>> for Caller {
    type Rejection = AvError;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(AvError::token_missing)?;
        let header = header
            .to_str()
            .map_err(|_| AvError::token_invalid("malformed Authorization header"))?;
        let (scheme, token) = header
            .trim()
            .split_once(' ')
            .ok_or_else(|| AvError::token_invalid("not a bearer token"))?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AvError::token_invalid("not a bearer token"));
        }
        let now = shared.clock.now();
        let state = shared.read();
        let issued = state
            .oauth
            .access_tokens
            .get(&fingerprint(token.trim()))
            .ok_or_else(|| AvError::token_invalid("unknown token"))?;
        if issued.expires_at <= now {
            return Err(AvError::token_invalid("token expired"));
        }
        let grant = state
            .oauth
            .grants
            .get(&issued.grant_id)
            .ok_or_else(|| AvError::token_invalid("grant revoked"))?;
        Ok(Self {
            user: grant.user.clone(),
            client_id: grant.client_id.clone(),
            scope: issued.scope.clone(),
        })
    }
}

/// An authenticated caller of a data call, with the administration it addresses.
#[derive(Clone, Debug)]
pub struct DataCaller {
    pub caller: Caller,
    pub company_id: String,
}

impl FromRequestParts<Arc<Shared>> for DataCaller {
    type Rejection = AvError;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, shared).await?;
        let company_id = parts
            .headers
            .get(COMPANY_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .ok_or_else(AvError::company_missing)?
            .to_owned();
        let (per_minute, company_id) = {
            let state = shared.read();
            let user = state.user(&caller.user).ok_or_else(AvError::company_forbidden)?;
            let reachable = user
                .administrations
                .iter()
                .any(|id| id.eq_ignore_ascii_case(&company_id));
            let administration = state
                .administrations
                .iter()
                .find(|administration| administration.id.eq_ignore_ascii_case(&company_id))
                .filter(|_| reachable)
                .ok_or_else(AvError::company_forbidden)?;
            // The stored spelling, so rate-limit buckets and offline flags match however the id was cased.
            (state.rate_limit_per_minute, administration.id.clone())
        };
        shared
            .limiter()
            .check(&caller.client_id, &company_id, per_minute, shared.clock.now())
            .map_err(AvError::rate_limited)?;
        if shared.faults().is_offline(&company_id) {
            return Err(AvError::offline());
        }
        Ok(Self { caller, company_id })
    }
}

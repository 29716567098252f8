//! The control surface under `/_sandbox/` (loopback only): reset and seed, rights per user, revoking grants,
//! expiring tokens, token lifetimes and rotation, the rate limit, injected faults, the clock, and read-outs
//! of everything posted and of every API call. Bodies and answers are plain JSON with snake_case names; errors are
//! `{"error": "…"}` with 400 or 404.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Duration;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::catalog;
use crate::config::{self, TokenSettings};
use crate::faults::{ALL_ROUTES, CommitThenTimeout, FAULT_ROUTES, InjectedFailure};
use crate::server::ConnectionHandle;
use crate::state::{Rights, Shared, State as SandboxState};

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox", get(overview))
        .route("/_sandbox/reset", post(reset))
        .route("/_sandbox/users", get(users))
        .route("/_sandbox/users/{login}/rights", put(set_rights))
        .route("/_sandbox/grants", get(grants))
        .route("/_sandbox/grants/revoke", post(revoke_grants))
        .route("/_sandbox/tokens/expire", post(expire_tokens))
        .route("/_sandbox/tokens/settings", get(token_settings).put(set_token_settings))
        .route("/_sandbox/rate-limit", get(rate_limit).put(set_rate_limit))
        .route("/_sandbox/faults", get(faults).delete(clear_faults))
        .route("/_sandbox/faults/latency", put(set_latency))
        .route("/_sandbox/faults/fail-next", post(fail_next))
        .route("/_sandbox/faults/offline", put(set_offline))
        .route("/_sandbox/faults/commit-then-timeout", post(commit_then_timeout))
        .route("/_sandbox/posted", get(posted).delete(clear_posted))
        .route("/_sandbox/calls", get(calls).delete(clear_calls))
        .route("/_sandbox/clock", get(clock).post(advance_clock))
        .route("/_sandbox/save", post(save))
}

/// Refuses control calls that do not come from this machine, whatever address the sandbox was bound to.
pub async fn loopback_only(request: Request, next: Next) -> Response {
    // No connection handle means the request did not come through the sandbox's own accept loop: refuse.
    let loopback = request
        .extensions()
        .get::<ConnectionHandle>()
        .is_some_and(|connection| connection.peer.ip().is_loopback());
    if loopback {
        next.run(request).await
    } else {
        ControlError::new(StatusCode::FORBIDDEN, "the control surface is loopback only").into_response()
    }
}

#[derive(Debug)]
pub struct ControlError {
    status: StatusCode,
    message: String,
}

impl ControlError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": self.message}))).into_response()
    }
}

/// Parses a control body; an empty body is the type's default (all fields optional).
fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ControlError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|error| ControlError::bad_request(format!("invalid body: {error}")))
}

/// Parses a control body that has required fields.
fn required_body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ControlError> {
    serde_json::from_slice(bytes).map_err(|error| ControlError::bad_request(format!("invalid body: {error}")))
}

fn check_route(route: &str) -> Result<(), ControlError> {
    if route == ALL_ROUTES || FAULT_ROUTES.contains(&route) {
        Ok(())
    } else {
        Err(ControlError::bad_request(format!(
            "unknown route {route}; use one of {FAULT_ROUTES:?} or \"*\""
        )))
    }
}

async fn overview(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    let state = shared.read();
    let administrations: Vec<_> = state
        .administrations
        .iter()
        .map(|administration| {
            json!({
                "id": administration.id,
                "code": administration.code,
                "description": administration.description,
                "fiscal_year": administration.fiscal_year,
                "debtors": administration.contacts.len(),
                "articles": administration.articles.len(),
                "journal_pages": administration.pages.len(),
                "transactions": administration.transactions.len(),
            })
        })
        .collect();
    Json(json!({
        "administrations": administrations,
        "users": state.users.iter().map(|user| &user.login).collect::<Vec<_>>(),
        "clients": shared.config.clients.iter().map(|client| &client.client_id).collect::<Vec<_>>(),
        "tokens": state.tokens,
        "rate_limit_per_minute": state.rate_limit_per_minute,
        "rate_limit_burst": shared.limiter().burst(),
        "grants": state.oauth.grants.len(),
        "posted": state.posted.len(),
        "faults": &*shared.faults(),
        "clock": clock_json(&shared),
    }))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    /// Debtors in the main company's administrations; default: as configured (or as last reset).
    debtors: Option<usize>,
    /// Keep grants and tokens, so a connected client stays connected across the reset.
    #[serde(default)]
    keep_grants: bool,
}

/// Throws all data away and seeds anew; also clears faults, rate-limit buckets (the burst back to the
/// configured one), the posted log, the call log and the clock.
async fn reset(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Result<Json<serde_json::Value>, ControlError> {
    let request: ResetBody = body(&bytes)?;
    let debtors = request.debtors.unwrap_or(shared.config.debtors);
    if debtors == 0 || debtors > config::MAX_DEBTORS {
        return Err(ControlError::bad_request(format!(
            "debtors must be between 1 and {}",
            config::MAX_DEBTORS
        )));
    }
    let tokens = shared.config.tokens.clone();
    let rate_limit = shared.config.rate_limit_per_minute;
    // Seeding 100,000 debtors takes a moment of CPU; keep it off the async workers.
    let mut fresh = tokio::task::spawn_blocking(move || SandboxState::seeded(debtors, tokens, rate_limit))
        .await
        .map_err(|error| ControlError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("seeding failed: {error}")))?;
    {
        let mut state = shared.write();
        if request.keep_grants {
            fresh.oauth = std::mem::take(&mut state.oauth);
        }
        *state = fresh;
    }
    *shared.faults() = Default::default();
    shared.limiter().set_burst(shared.config.rate_limit_burst);
    shared.calls().clear();
    shared.clock.reset();
    Ok(Json(
        json!({"reset": true, "debtors": debtors, "keep_grants": request.keep_grants}),
    ))
}

#[derive(Serialize)]
struct UserView<'a> {
    login: &'a str,
    password: &'a str,
    display_name: &'a str,
    administrations: &'a [String],
    rights: &'a BTreeMap<String, Rights>,
}

async fn users(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    let state = shared.read();
    let users: Vec<UserView<'_>> = state
        .users
        .iter()
        .map(|user| UserView {
            login: &user.login,
            password: &user.password,
            display_name: &user.display_name,
            administrations: &user.administrations,
            rights: &user.rights,
        })
        .collect();
    Json(json!(users))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RightsChange {
    business_object: String,
    read: Option<bool>,
    insert: Option<bool>,
    update: Option<bool>,
    delete: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RightsChanges {
    One(RightsChange),
    Many(Vec<RightsChange>),
}

/// Sets a user's rights on business objects; fields left out keep their value. A business object with all
/// four rights off disappears from `AccountViewSystemBusinessObjects` and reads of it answer 403.
async fn set_rights(
    State(shared): State<Arc<Shared>>,
    Path(login): Path<String>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ControlError> {
    let changes = match required_body::<RightsChanges>(&bytes)? {
        RightsChanges::One(change) => vec![change],
        RightsChanges::Many(changes) => changes,
    };
    let mut state = shared.write();
    let user = state
        .user_mut(&login)
        .ok_or_else(|| ControlError::new(StatusCode::NOT_FOUND, format!("no user {login}")))?;
    for change in &changes {
        let object = catalog::business_object(&change.business_object)
            .ok_or_else(|| ControlError::bad_request(format!("unknown business object {}", change.business_object)))?;
        let rights = user.rights.entry(object.code.to_owned()).or_insert(Rights {
            read: false,
            insert: false,
            update: false,
            delete: false,
        });
        rights.read = change.read.unwrap_or(rights.read);
        rights.insert = change.insert.unwrap_or(rights.insert);
        rights.update = change.update.unwrap_or(rights.update);
        rights.delete = change.delete.unwrap_or(rights.delete);
    }
    Ok(Json(json!({"login": user.login, "rights": user.rights})))
}

async fn grants(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    let state = shared.read();
    let grants: Vec<_> = state
        .oauth
        .grants
        .values()
        .map(|grant| {
            json!({
                "id": grant.id,
                "user": grant.user,
                "client_id": grant.client_id,
                "scope": grant.scope.join(" "),
                "created_at": grant.created_at,
                "access_tokens": state.oauth.access_tokens.values().filter(|token| token.grant_id == grant.id).count(),
                "refresh_tokens": state.oauth.refresh_tokens.values().filter(|token| token.grant_id == grant.id).count(),
            })
        })
        .collect();
    Json(json!(grants))
}

/// Which grants or tokens a control call applies to; both fields empty means all.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantSelector {
    user: Option<String>,
    client_id: Option<String>,
}

impl GrantSelector {
    fn matches(&self, grant: &crate::state::Grant) -> bool {
        self.user
            .as_deref()
            .is_none_or(|user| grant.user.eq_ignore_ascii_case(user))
            && self
                .client_id
                .as_deref()
                .is_none_or(|client_id| grant.client_id == client_id)
    }
}

/// Revokes grants: their access tokens stop working (401) and their refresh tokens give `invalid_grant`,
/// as when a user withdraws consent at Visma.
async fn revoke_grants(
    State(shared): State<Arc<Shared>>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ControlError> {
    let selector: GrantSelector = body(&bytes)?;
    let mut state = shared.write();
    let grant_ids: Vec<u64> = state
        .oauth
        .grants
        .values()
        .filter(|grant| selector.matches(grant))
        .map(|grant| grant.id)
        .collect();
    for grant_id in &grant_ids {
        state.oauth.revoke_grant(*grant_id);
    }
    Ok(Json(json!({"revoked_grants": grant_ids.len()})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpireBody {
    #[serde(default = "yes")]
    access: bool,
    #[serde(default)]
    refresh: bool,
    user: Option<String>,
    client_id: Option<String>,
}

impl Default for ExpireBody {
    fn default() -> Self {
        Self {
            access: true,
            refresh: false,
            user: None,
            client_id: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// Makes tokens expire now (access tokens by default, refresh tokens on request).
async fn expire_tokens(
    State(shared): State<Arc<Shared>>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ControlError> {
    let request: ExpireBody = body(&bytes)?;
    let selector = GrantSelector {
        user: request.user,
        client_id: request.client_id,
    };
    // One second in the past, so "expires_at <= now" holds even if the clock is read again within the second.
    let past = shared.clock.now() - Duration::seconds(1);
    let mut state = shared.write();
    let grant_ids: Vec<u64> = state
        .oauth
        .grants
        .values()
        .filter(|grant| selector.matches(grant))
        .map(|grant| grant.id)
        .collect();
    let mut expired_access = 0;
    let mut expired_refresh = 0;
    if request.access {
        for token in state
            .oauth
            .access_tokens
            .values_mut()
            .filter(|token| grant_ids.contains(&token.grant_id))
        {
            token.expires_at = past;
            expired_access += 1;
        }
    }
    if request.refresh {
        for token in state
            .oauth
            .refresh_tokens
            .values_mut()
            .filter(|token| grant_ids.contains(&token.grant_id))
        {
            token.expires_at = past;
            expired_refresh += 1;
        }
    }
    Ok(Json(
        json!({"expired_access_tokens": expired_access, "expired_refresh_tokens": expired_refresh}),
    ))
}

async fn token_settings(State(shared): State<Arc<Shared>>) -> Json<TokenSettings> {
    Json(shared.read().tokens.clone())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenSettingsChange {
    access_token_seconds: Option<i64>,
    refresh_token_seconds: Option<i64>,
    rotate_refresh_tokens: Option<bool>,
}

/// Changes lifetimes (for tokens issued from now on) and rotation.
async fn set_token_settings(
    State(shared): State<Arc<Shared>>,
    bytes: Bytes,
) -> Result<Json<TokenSettings>, ControlError> {
    let change: TokenSettingsChange = body(&bytes)?;
    let mut state = shared.write();
    let mut settings = state.tokens.clone();
    settings.access_token_seconds = change.access_token_seconds.unwrap_or(settings.access_token_seconds);
    settings.refresh_token_seconds = change.refresh_token_seconds.unwrap_or(settings.refresh_token_seconds);
    settings.rotate_refresh_tokens = change.rotate_refresh_tokens.unwrap_or(settings.rotate_refresh_tokens);
    config::validate_token_settings(&settings).map_err(ControlError::bad_request)?;
    state.tokens = settings.clone();
    Ok(Json(settings))
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RateLimitBody {
    /// Requests per minute per client and administration; 0 turns the limit off.
    requests_per_minute: u32,
    /// How many requests may come at once after a quiet spell; left out (or `null`): a minute's worth.
    #[serde(default)]
    burst: Option<u32>,
}

async fn rate_limit(State(shared): State<Arc<Shared>>) -> Json<RateLimitBody> {
    Json(RateLimitBody {
        requests_per_minute: shared.read().rate_limit_per_minute,
        burst: shared.limiter().burst(),
    })
}

async fn set_rate_limit(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Result<Json<RateLimitBody>, ControlError> {
    let change: RateLimitBody = required_body(&bytes)?;
    if change.burst == Some(0) {
        return Err(ControlError::bad_request("burst must be at least 1"));
    }
    shared.write().rate_limit_per_minute = change.requests_per_minute;
    // Buckets were sized for the old limit; start everyone full under the new one.
    shared.limiter().set_burst(change.burst);
    Ok(Json(change))
}

async fn faults(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(json!(&*shared.faults()))
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    *shared.faults() = Default::default();
    Json(json!({"cleared": true}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyBody {
    route: String,
    /// Added before the call is handled; 0 removes it.
    latency_ms: u64,
}

async fn set_latency(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Result<Json<serde_json::Value>, ControlError> {
    let request: LatencyBody = required_body(&bytes)?;
    check_route(&request.route)?;
    if request.latency_ms > 600_000 {
        return Err(ControlError::bad_request("latency_ms must be at most 600000"));
    }
    shared.faults().route_mut(&request.route).latency_ms = request.latency_ms;
    Ok(Json(json!({"route": request.route, "latency_ms": request.latency_ms})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailNextBody {
    route: String,
    #[serde(default = "one")]
    count: u32,
    status: u16,
    #[serde(default)]
    error_number: Option<u32>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    retry_after_seconds: Option<u64>,
    #[serde(default)]
    oauth_error: Option<String>,
}

fn one() -> u32 {
    1
}

/// Arms failures for the next calls of a route. A status of 200 gives an AccountView error body with HTTP 200.
async fn fail_next(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Result<Json<serde_json::Value>, ControlError> {
    let request: FailNextBody = required_body(&bytes)?;
    check_route(&request.route)?;
    if !(200..=599).contains(&request.status) || (201..=399).contains(&request.status) {
        return Err(ControlError::bad_request(
            "status must be 200 (error body with HTTP 200) or 400-599",
        ));
    }
    if request.count == 0 || request.count > 100_000 {
        return Err(ControlError::bad_request("count must be between 1 and 100000"));
    }
    let default_message = match request.status {
        503 => crate::errors::OFFLINE_MESSAGE.to_owned(),
        429 => "Te veel verzoeken; probeer het later opnieuw".to_owned(),
        _ => format!("Gesimuleerde fout (HTTP {})", request.status),
    };
    let failure = InjectedFailure {
        status: request.status,
        error_number: request.error_number.unwrap_or(crate::errors::number::INJECTED),
        message: request.message.unwrap_or(default_message),
        retry_after_seconds: request.retry_after_seconds,
        oauth_error: request.oauth_error,
    };
    shared
        .faults()
        .route_mut(&request.route)
        .fail_next
        .push_back((failure, request.count));
    Ok(Json(
        json!({"route": request.route, "count": request.count, "status": request.status}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfflineBody {
    offline: bool,
    /// One administration; without it the switch is for all of them.
    company_id: Option<String>,
}

async fn set_offline(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Result<Json<serde_json::Value>, ControlError> {
    let request: OfflineBody = required_body(&bytes)?;
    let mut faults = shared.faults();
    match &request.company_id {
        None => {
            faults.offline = request.offline;
            if !request.offline {
                faults.offline_companies.clear();
            }
        }
        Some(company_id) => {
            if request.offline {
                faults.offline_companies.insert(company_id.clone());
            } else {
                faults.offline_companies.remove(company_id);
            }
        }
    }
    Ok(Json(
        json!({"offline": faults.offline, "offline_companies": faults.offline_companies}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitThenTimeoutBody {
    #[serde(default = "post_route")]
    route: String,
    #[serde(default = "one")]
    count: u32,
    /// How long to hold the connection open after committing, before dropping it.
    #[serde(default)]
    delay_ms: u64,
}

impl Default for CommitThenTimeoutBody {
    fn default() -> Self {
        Self {
            route: post_route(),
            count: 1,
            delay_ms: 0,
        }
    }
}

fn post_route() -> String {
    "POST /api/v3/AccountViewData".to_owned()
}

/// Arms commit-then-timeout: the next `count` successful calls of the route do their work (store the
/// document, rotate the token…) and then the connection is dropped without an answer.
async fn commit_then_timeout(
    State(shared): State<Arc<Shared>>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ControlError> {
    let request: CommitThenTimeoutBody = body(&bytes)?;
    check_route(&request.route)?;
    if request.count == 0 || request.delay_ms > 600_000 {
        return Err(ControlError::bad_request(
            "count must be at least 1 and delay_ms at most 600000",
        ));
    }
    shared.faults().route_mut(&request.route).commit_then_timeout = Some(CommitThenTimeout {
        remaining: request.count,
        delay_ms: request.delay_ms,
    });
    Ok(Json(
        json!({"route": request.route, "count": request.count, "delay_ms": request.delay_ms}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostedFilter {
    business_object: Option<String>,
    committed: Option<bool>,
    company_id: Option<String>,
}

/// Everything posted, oldest first, optionally filtered.
async fn posted(State(shared): State<Arc<Shared>>, Query(filter): Query<PostedFilter>) -> Json<serde_json::Value> {
    let state = shared.read();
    let documents: Vec<_> = state
        .posted
        .iter()
        .filter(|document| {
            filter
                .business_object
                .as_deref()
                .is_none_or(|code| document.business_object.eq_ignore_ascii_case(code))
        })
        .filter(|document| filter.committed.is_none_or(|committed| document.committed == committed))
        .filter(|document| {
            filter
                .company_id
                .as_deref()
                .is_none_or(|company_id| document.company_id == company_id)
        })
        .collect();
    Json(json!(documents))
}

async fn clear_posted(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    let mut state = shared.write();
    let cleared = state.posted.len();
    state.posted.clear();
    Json(json!({"cleared": cleared}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallFilter {
    /// `METHOD path`, as fault routes are named.
    route: Option<String>,
    company_id: Option<String>,
}

/// Every API call still in the log, oldest first, optionally filtered, with how many older ones the full
/// log forgot.
async fn calls(State(shared): State<Arc<Shared>>, Query(filter): Query<CallFilter>) -> Json<serde_json::Value> {
    let log = shared.calls();
    let calls: Vec<_> = log
        .calls()
        .filter(|call| filter.route.as_deref().is_none_or(|route| call.route == route))
        .filter(|call| {
            filter
                .company_id
                .as_deref()
                .is_none_or(|company_id| call.company_id.as_deref() == Some(company_id))
        })
        .collect();
    Json(json!({"calls": calls, "forgotten": log.forgotten()}))
}

async fn clear_calls(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    let mut log = shared.calls();
    let cleared = log.calls().count();
    log.clear();
    Json(json!({"cleared": cleared}))
}

fn clock_json(shared: &Shared) -> serde_json::Value {
    json!({
        "utc": shared.clock.now().to_rfc3339(),
        "local": shared.clock.local_now().format("%Y-%m-%dT%H:%M:%S").to_string(),
        "offset_seconds": shared.clock.offset_seconds(),
    })
}

async fn clock(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(clock_json(&shared))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    advance_seconds: i64,
}

/// Moves the sandbox clock, e.g. 3601 s to let every access token expire naturally.
async fn advance_clock(
    State(shared): State<Arc<Shared>>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ControlError> {
    let request: AdvanceBody = required_body(&bytes)?;
    if request.advance_seconds.abs() > 10 * 366 * 24 * 3600 {
        return Err(ControlError::bad_request("advance_seconds must be within ten years"));
    }
    shared.clock.advance(request.advance_seconds);
    Ok(Json(clock_json(&shared)))
}

/// Writes the state file now (when one is configured).
async fn save(State(shared): State<Arc<Shared>>) -> Result<Json<serde_json::Value>, ControlError> {
    let worker = Arc::clone(&shared);
    let written = tokio::task::spawn_blocking(move || worker.save_state_file(false))
        .await
        .map_err(|error| ControlError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?
        .map_err(|error| ControlError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?;
    let Some((path, size)) = written else {
        return Err(ControlError::bad_request("no --state-file configured"));
    };
    Ok(Json(json!({"path": path, "size_bytes": size})))
}

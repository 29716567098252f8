//! Platform endpoints: log in and out, the caller's own profile and API tokens, administrations,
//! the Licence Manager, users and rights, and the audit log.

use super::body::{AdministrationBody, ApiTokenBody, AuditEntryBody, Items, LicenceBody, Page, RightsBody, UserBody};
use super::path::{AdministrationPath, ApiPath, ApiTokenPath, LicencePath, RightsPath};
use super::schema::reference;
use super::{Endpoint, JsonBody, Operation};
use crate::AppState;
use crate::auth::{Caller, SESSION_COOKIE};
use crate::error::ApiError;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use chrono::NaiveDate;
use koppel_domain::licence::{LicenceState, PowerUp};
use koppel_domain::rights::{Right, Rights};
use koppel_store::platform::{Actor, NewAdministration, NewUser};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use std::collections::HashMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    client: crate::auth::ClientAddress,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let login: Login = body.parse()?;
    if let Err(wait_seconds) = state.login_limiter.check(&state.store, &login.email, client.0).await? {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!("too many failed attempts; try again in {wait_seconds} seconds"),
        )
        .into_response();
        error.headers_mut().insert(header::RETRY_AFTER, wait_seconds.into());
        return Ok(error);
    }
    let Some(user) = state.store.authenticate_password(&login.email, &login.password).await? else {
        state.login_limiter.failed(&state.store, &login.email, client.0).await?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "the e-mail address or password is wrong",
        ));
    };
    state
        .login_limiter
        .succeeded(&state.store, &login.email, client.0)
        .await?;
    let secret = state
        .store
        .create_session(user.id, state.config.session_lifetime)
        .await?;
    let cookie = state.config.session_cookie(&secret);
    Ok(([(header::SET_COOKIE, cookie)], axum::Json(UserBody::from(&user))).into_response())
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(secret) = crate::auth::cookie(&headers, SESSION_COOKIE) {
        state.store.delete_session(secret).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, state.config.expired_session_cookie())],
    )
        .into_response())
}

async fn me(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let memberships = state.store.memberships(caller.user.id).await?;
    Ok(axum::Json(UserBody::with_access(&caller.user, &memberships)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageRequest {
    language: String,
}

async fn set_language(State(state): State<AppState>, caller: Caller, body: JsonBody) -> Result<Response, ApiError> {
    let request: LanguageRequest = body.parse()?;
    state.store.set_user_language(caller.user.id, &request.language).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    name: String,
}

async fn list_tokens(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let tokens = state.store.api_tokens(caller.user.id).await?;
    let items = tokens.iter().map(ApiTokenBody::from).collect();
    Ok(axum::Json(Items { items }).into_response())
}

async fn create_token(State(state): State<AppState>, caller: Caller, body: JsonBody) -> Result<Response, ApiError> {
    let request: TokenRequest = body.parse()?;
    let (token, secret) = state.store.create_api_token(caller.user.id, &request.name).await?;
    let body = ApiTokenBody {
        token: Some(secret),
        ..ApiTokenBody::from(&token)
    };
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ApiTokenPath>,
) -> Result<Response, ApiError> {
    let id = path.token;
    state
        .store
        .revoke_api_token(caller.user.id, id)
        .await
        .map_err(|error| ApiError::from_store(error, "active API token"))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_administrations(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let memberships = state.store.memberships(caller.user.id).await?;
    let items = memberships.iter().map(AdministrationBody::from).collect();
    Ok(axum::Json(Items { items }).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdministrationRequest {
    name: String,
}

async fn create_administration(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let request: AdministrationRequest = body.parse()?;
    caller.require_on_main(&state, Right::ManageAdministrations).await?;
    let actor = Actor(Some(caller.user.id));
    let new = NewAdministration {
        environment: caller.user.environment_id,
        name: &request.name,
        is_main: false,
    };
    let administration = state.store.create_administration(new, actor).await?;
    // The creator can work in the new sub straight away.
    state
        .store
        .set_rights(caller.user.id, administration.id, Rights::all(), actor)
        .await?;
    let location = format!("/api/v1/administrations/{}", administration.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(AdministrationBody::new(&administration, Rights::all())),
    )
        .into_response())
}

async fn get_administration(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
) -> Result<Response, ApiError> {
    let id = path.administration;
    let (administration, rights) = caller.require(&state, id, Right::ReadData).await?;
    Ok(axum::Json(AdministrationBody::new(&administration, rights)).into_response())
}

async fn delete_administration(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let id = path.administration;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    caller.require_on_main(&state, Right::ManageAdministrations).await?;
    let administration = state
        .store
        .administration(id)
        .await
        .ok()
        .filter(|a| a.environment_id == caller.user.environment_id);
    let administration = administration.ok_or_else(|| ApiError::not_found("administration"))?;
    if administration.is_main {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "main_cannot_be_deleted",
            "the main administration cannot be deleted",
        ));
    }
    if query.get("confirm").map(|c| c.trim()) != Some(administration.name.as_str()) {
        return Err(ApiError::invalid(vec![koppel_domain::record::FieldError::new(
            "confirm",
            "confirmation_required",
            format!(
                "deleting a sub-administration permanently removes all of its data; repeat its name as ?confirm={}",
                administration.name
            ),
        )]));
    }
    state
        .store
        .delete_administration(id, Actor(Some(caller.user.id)))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_licences(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let today = state.store.now().date_naive();
    let licences = state.store.licences(caller.user.environment_id).await?;
    let items = licences
        .iter()
        .map(|licence| LicenceBody::new(licence, today))
        .collect();
    Ok(axum::Json(Items { items }).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenceRequest {
    state: String,
    until: Option<NaiveDate>,
    capacity: Option<i64>,
}

async fn set_licence(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<LicencePath>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let power_up = PowerUp::parse(&path.power_up)
        .ok_or_else(|| ApiError::not_found("power-up (use power_bi, sub_administrations or accountview)"))?;
    // Leaving capacity out keeps the current one; null would be ambiguous (unlimited? zero?), so it
    // is refused like any other value that is not a whole number.
    let capacity_is_null = body.0.get("capacity").is_some_and(Json::is_null);
    let request: LicenceRequest = body.parse()?;
    caller.require_on_main(&state, Right::ManageAdministrations).await?;
    let field_error = |field: &str, message: &str| {
        ApiError::invalid(vec![koppel_domain::record::FieldError::new(field, "invalid", message)])
    };
    if capacity_is_null {
        return Err(field_error(
            "capacity",
            "capacity must be a whole number from 0 to 1000; leave it out to keep the current capacity",
        ));
    }
    let today = state.store.now().date_naive();
    let licence_state = match (request.state.as_str(), request.until) {
        ("active", _) => LicenceState::Active,
        ("inactive", _) => LicenceState::Inactive,
        ("trial", Some(until)) if until < today => {
            return Err(field_error(
                "until",
                "a trial's last day (until) may not lie in the past",
            ));
        }
        ("trial", Some(until)) => LicenceState::Trial { until },
        ("trial", None) => return Err(field_error("until", "a trial needs its last day as until")),
        _ => return Err(field_error("state", "state must be trial, active or inactive")),
    };
    let environment = caller.user.environment_id;
    let current = state
        .store
        .licences(environment)
        .await?
        .into_iter()
        .find(|l| l.power_up == power_up);
    let capacity = request.capacity.or(current.map(|l| l.capacity)).unwrap_or(0);
    let licence = state
        .store
        .set_licence(
            environment,
            power_up,
            licence_state,
            capacity,
            Actor(Some(caller.user.id)),
        )
        .await?;
    Ok(axum::Json(LicenceBody::new(&licence, state.store.now().date_naive())).into_response())
}

async fn list_users(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_on_main(&state, Right::ManageAdministrations).await?;
    let mut items = Vec::new();
    for user in state.store.users(caller.user.environment_id).await? {
        let memberships = state.store.memberships(user.id).await?;
        items.push(UserBody::with_access(&user, &memberships));
    }
    Ok(axum::Json(Items { items }).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRequest {
    email: String,
    name: String,
    password: String,
    language: Option<String>,
}

async fn create_user(State(state): State<AppState>, caller: Caller, body: JsonBody) -> Result<Response, ApiError> {
    let request: UserRequest = body.parse()?;
    let main = caller.require_on_main(&state, Right::ManageAdministrations).await?;
    let user = state
        .store
        .create_user(NewUser {
            environment: caller.user.environment_id,
            email: &request.email,
            name: &request.name,
            password: &request.password,
            language: request.language.as_deref().unwrap_or("nl"),
        })
        .await?;
    state
        .store
        .record_audit(
            main.environment_id,
            None,
            Actor(Some(caller.user.id)),
            "user.create",
            &user.email,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(UserBody::from(&user))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RightsRequest {
    rights: Vec<String>,
}

async fn set_rights(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<RightsPath>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let RightsPath { user, administration } = path;
    let request: RightsRequest = body.parse()?;
    caller.require_on_main(&state, Right::ManageAdministrations).await?;
    let mut rights = Rights::default();
    for name in &request.rights {
        let right = Right::parse(name).ok_or_else(|| {
            ApiError::invalid(vec![koppel_domain::record::FieldError::new(
                "rights",
                "invalid",
                format!(
                    "unknown right {name}; use: {}",
                    Right::ALL.map(|r| r.as_str()).join(", ")
                ),
            )])
        })?;
        rights = rights.with(right);
    }
    let target = state
        .store
        .user(user)
        .await
        .ok()
        .filter(|u| u.environment_id == caller.user.environment_id);
    target.ok_or_else(|| ApiError::not_found("user"))?;
    state
        .store
        .set_rights(user, administration, rights, Actor(Some(caller.user.id)))
        .await
        .map_err(|error| ApiError::from_store(error, "administration"))?;
    Ok(axum::Json(RightsBody::from(rights)).into_response())
}

async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    caller.require_on_main(&state, Right::ManageAdministrations).await?;
    let before = match query.get("cursor") {
        Some(cursor) => Some(cursor.parse::<i64>().map_err(|_| {
            ApiError::bad_request("invalid_cursor", "cursor must be a next_cursor from a previous page")
        })?),
        None => None,
    };
    let limit = match query.get("limit") {
        Some(limit) => limit
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| ApiError::bad_request("invalid_limit", "limit must be between 1 and 500"))?,
        None => 50,
    };
    let entries = state
        .store
        .audit_log(caller.user.environment_id, before, limit + 1)
        .await?;
    let next = (entries.len() > limit as usize).then(|| entries[limit as usize - 1].id.to_string());
    let items = entries[..entries.len().min(limit as usize)]
        .iter()
        .map(AuditEntryBody::from)
        .collect();
    Ok(axum::Json(Page {
        items,
        next_cursor: next,
    })
    .into_response())
}

pub fn endpoints() -> Vec<Endpoint> {
    let list_of =
        |name: &str| json!({"type": "object", "properties": {"items": {"type": "array", "items": reference(name)}}});
    vec![
        Operation::new(
            Method::POST,
            "/api/v1/session",
            "login",
            "Log in with e-mail and password; sets the session cookie",
        )
        .public()
        .request(reference("Login"))
        .response(200, Some(reference("User")))
        .handler(post(login)),
        Operation::new(Method::DELETE, "/api/v1/session", "logout", "Log out")
            .public()
            .response(204, None)
            .handler(delete(logout)),
        Operation::new(
            Method::GET,
            "/api/v1/me",
            "getMe",
            "The caller and the administrations they may access",
        )
        .response(200, Some(reference("User")))
        .handler(get(me)),
        Operation::new(
            Method::PUT,
            "/api/v1/me/language",
            "setLanguage",
            "Choose the language of pages and messages",
        )
        .request(reference("Language"))
        .response(204, None)
        .handler(put(set_language)),
        Operation::new(
            Method::GET,
            "/api/v1/me/tokens",
            "listApiTokens",
            "The caller's API tokens",
        )
        .response(200, Some(list_of("ApiToken")))
        .handler(get(list_tokens)),
        Operation::new(
            Method::POST,
            "/api/v1/me/tokens",
            "createApiToken",
            "Create an API token; the secret is shown once",
        )
        .request(reference("ApiTokenCreate"))
        .response(201, Some(reference("ApiToken")))
        .handler(post(create_token)),
        Operation::new(
            Method::DELETE,
            "/api/v1/me/tokens/{token}",
            "revokeApiToken",
            "Revoke an API token",
        )
        .response(204, None)
        .handler(delete(revoke_token)),
        Operation::new(
            Method::GET,
            "/api/v1/administrations",
            "listAdministrations",
            "Administrations the caller may access",
        )
        .response(200, Some(list_of("Administration")))
        .handler(get(list_administrations)),
        Operation::new(
            Method::POST,
            "/api/v1/administrations",
            "createAdministration",
            "Create a sub-administration (needs capacity in the licence)",
        )
        .request(reference("AdministrationCreate"))
        .response(201, Some(reference("Administration")))
        .handler(post(create_administration)),
        Operation::new(
            Method::GET,
            "/api/v1/administrations/{administration}",
            "getAdministration",
            "One administration",
        )
        .response(200, Some(reference("Administration")))
        .handler(get(get_administration)),
        Operation::new(
            Method::DELETE,
            "/api/v1/administrations/{administration}",
            "deleteAdministration",
            "Permanently delete a sub-administration and all of its data; repeat its name as ?confirm=",
        )
        .query(
            "confirm",
            "the administration's exact name, to confirm",
            json!({"type": "string"}),
        )
        .response(204, None)
        .handler(delete(delete_administration)),
        Operation::new(
            Method::GET,
            "/api/v1/licences",
            "listLicences",
            "The Licence Manager: power-ups and their state",
        )
        .response(200, Some(list_of("Licence")))
        .handler(get(list_licences)),
        Operation::new(
            Method::PUT,
            "/api/v1/licences/{power_up}",
            "setLicence",
            "Activate, deactivate or trial a power-up",
        )
        .request(reference("LicenceUpdate"))
        .response(200, Some(reference("Licence")))
        .handler(put(set_licence)),
        Operation::new(
            Method::GET,
            "/api/v1/users",
            "listUsers",
            "Users of the environment with their access",
        )
        .response(200, Some(list_of("User")))
        .handler(get(list_users)),
        Operation::new(Method::POST, "/api/v1/users", "createUser", "Create a user")
            .request(reference("UserCreate"))
            .response(201, Some(reference("User")))
            .handler(post(create_user)),
        Operation::new(
            Method::PUT,
            "/api/v1/users/{user}/administrations/{administration}/rights",
            "setRights",
            "Set a user's rights in an administration (an empty list removes access)",
        )
        .request(reference("Rights"))
        .response(200, Some(reference("Rights")))
        .handler(put(set_rights)),
        Operation::new(
            Method::GET,
            "/api/v1/audit-log",
            "listAuditLog",
            "Administrative actions, newest first",
        )
        .query("cursor", "next_cursor of the previous page", json!({"type": "string"}))
        .query("limit", "page size (1–500, default 50)", json!({"type": "integer"}))
        .response(200, Some(list_of("AuditEntry")))
        .handler(get(audit_log)),
    ]
}

//! Data Sync over HTTP: Autosync on or off, sync now (or join the running sync), a full resync,
//! how fresh the reporting data is, and the feed tokens Power BI logs in with.
//!
//! Everything here needs the Power BI licence and the `manage_datasync` right in the administration.

use super::path::{AdministrationPath, ApiPath, FeedTokenPath};
use super::time;
use super::{Endpoint, JsonBody, Operation};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::external::ExternalBase;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use koppel_datasync::state::AutosyncSwitch;
use koppel_datasync::tokens::{FeedToken, FeedTokenId};
use koppel_domain::AdministrationId;
use koppel_domain::licence::PowerUp;
use koppel_domain::rights::Right;
use koppel_jobs::storage::jobs::{Enqueued, JobStatus};
use koppel_store::StoreError;
use serde::Deserialize;
use serde_json::{Value as Json, json};

/// The administration from the path, checked for the right and the licence.
async fn authorise(
    state: &AppState,
    caller: &Caller,
    administration: AdministrationId,
) -> Result<AdministrationId, ApiError> {
    let found = caller
        .require_feature(state, administration, Right::ManageDatasync, PowerUp::PowerBi)
        .await?;
    Ok(found.id)
}

/// The feed's absolute URL at the request's external address (see [`ExternalBase`]).
pub fn feed_url(external: &ExternalBase, administration: AdministrationId) -> String {
    format!(
        "{}/odata/v4/{}/",
        external.url(),
        koppel_datasync::feed_name(administration)
    )
}

async fn status_json(
    state: &AppState,
    external: &ExternalBase,
    administration: AdministrationId,
) -> Result<Json, ApiError> {
    let status = koppel_datasync::state::read(&state.store, administration).await?;
    let url = feed_url(external, administration);
    Ok(json!({
        "autosync": status.autosync,
        "autosync_changed_at": status.autosync_changed_at.map(time),
        "autosync_changed_by": status.autosync_changed_by,
        "current_sync": status.current_sync,
        "data_up_to": status.synced_at.map(time),
        "feed_name": koppel_datasync::feed_name(administration),
        "feed_url": url,
        "power_query": koppel_datasync::power_query_m(&url),
    }))
}

async fn read(
    State(state): State<AppState>,
    caller: Caller,
    external: ExternalBase,
    ApiPath(path): ApiPath<AdministrationPath>,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    Ok(axum::Json(status_json(&state, &external, administration).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AutosyncRequest {
    enabled: bool,
}

async fn set_autosync(
    State(state): State<AppState>,
    caller: Caller,
    external: ExternalBase,
    ApiPath(path): ApiPath<AdministrationPath>,
    body: Option<JsonBody>,
) -> Result<Response, ApiError> {
    // Who may do this is checked before what was sent.
    let administration = authorise(&state, &caller, path.administration).await?;
    let body = body.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send {\"enabled\": true|false} as JSON with 'Content-Type: application/json'",
        )
    })?;
    let request: AutosyncRequest = body.parse()?;
    let switch = if request.enabled {
        AutosyncSwitch::On
    } else {
        AutosyncSwitch::Off
    };
    koppel_datasync::state::set_autosync(&state.store, administration, switch, Some(caller.user.id)).await?;
    Ok(axum::Json(status_json(&state, &external, administration).await?).into_response())
}

async fn start(
    state: &AppState,
    caller: &Caller,
    administration: AdministrationId,
    full: bool,
) -> Result<Response, ApiError> {
    let enqueued = koppel_datasync::sync_now(&state.store, administration, caller.user.id, full).await?;
    let run = koppel_jobs::runs::run(&state.store, administration, enqueued.run()).await?;
    let location = format!("/api/v1/administrations/{administration}/runs/{}", run.id);
    let mut body = super::runs::run_json(&run);
    Ok(match enqueued {
        Enqueued::Created { .. } => {
            body["joined"] = Json::Bool(false);
            (StatusCode::ACCEPTED, [(header::LOCATION, location)], axum::Json(body)).into_response()
        }
        Enqueued::Joined { status, .. } => {
            body["joined"] = Json::Bool(true);
            body["already"] = Json::from(if status == JobStatus::Running {
                "running"
            } else {
                "queued"
            });
            (StatusCode::OK, [(header::LOCATION, location)], axum::Json(body)).into_response()
        }
    })
}

async fn sync_now(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    start(&state, &caller, administration, false).await
}

async fn full_resync(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    start(&state, &caller, administration, true).await
}

fn token_json(token: &FeedToken) -> Json {
    json!({
        "id": token.id.0,
        "name": token.name,
        "created_at": time(token.created_at),
        "created_by": token.created_by,
        "last_used_at": token.last_used_at.map(time),
        "revoked_at": token.revoked_at.map(time),
    })
}

async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    let tokens = koppel_datasync::tokens::list(&state.store, administration).await?;
    let items: Vec<Json> = tokens.iter().map(token_json).collect();
    Ok(axum::Json(json!({ "items": items })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    name: String,
}

async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    let request: TokenRequest = body.parse()?;
    let (token, secret) =
        koppel_datasync::tokens::create(&state.store, administration, &request.name, Some(caller.user.id)).await?;
    let mut body = token_json(&token);
    body["token"] = Json::String(secret);
    body["user"] = Json::String(koppel_datasync::feed_name(administration));
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<FeedTokenPath>,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    let token = FeedTokenId(path.token);
    match koppel_datasync::tokens::revoke(&state.store, administration, token).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(StoreError::NotFound) => Err(ApiError::not_found("active feed token")),
        Err(other) => Err(other.into()),
    }
}

pub fn endpoints() -> Vec<Endpoint> {
    let base = "/api/v1/administrations/{administration}/datasync";
    let time = json!({"type": ["string", "null"], "format": "date-time"});
    let status = json!({"type": "object", "required": ["autosync", "current_sync", "data_up_to", "feed_url"], "properties": {
        "autosync": {"type": "boolean"},
        "autosync_changed_at": time, "autosync_changed_by": {"type": ["integer", "null"]},
        "current_sync": {"type": "integer", "description": "The sync Power BI reads; 0 before the first"},
        "data_up_to": {"type": ["string", "null"], "format": "date-time", "description": "When the current sync committed"},
        "feed_name": {"type": "string", "description": "The HTTP Basic user name of the feed"},
        "feed_url": {"type": "string"},
        "power_query": {"type": "string", "description": "Paste-ready Power Query M"},
    }});
    let token = json!({"type": "object", "required": ["id", "name", "created_at"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
        "created_by": {"type": ["integer", "null"]}, "last_used_at": time, "revoked_at": time,
    }});
    let mut created_token = token.clone();
    created_token["properties"]["token"] =
        json!({"type": "string", "description": "The secret (HTTP Basic password); shown only now"});
    created_token["properties"]["user"] = json!({"type": "string", "description": "The HTTP Basic user name"});
    let run = super::schema::reference("Run");
    vec![
        Operation::new(Method::GET, base, "getDatasync", "Data Sync status: Autosync, data freshness, feed URL")
            .tag("datasync")
            .response(200, Some(status.clone()))
            .handler(get(read)),
        Operation::new(
            Method::PUT,
            format!("{base}/autosync"),
            "setAutosync",
            "Switch Autosync on or off; automatic syncs run on the operator's interval",
        )
        .tag("datasync")
        .request(json!({"type": "object", "required": ["enabled"], "properties": {"enabled": {"type": "boolean"}}}))
        .response(200, Some(status))
        .handler(put(set_autosync)),
        Operation::new(
            Method::POST,
            format!("{base}/sync"),
            "syncNow",
            "Start a sync now (202), or join the one that is already queued or running (200, joined: true)",
        )
        .tag("datasync")
        .response(202, Some(run.clone()))
        .also(200, "Joined the sync that is already queued or running", super::schema::reference("JoinedRun"))
        .handler(post(sync_now)),
        Operation::new(
            Method::POST,
            format!("{base}/full-resync"),
            "fullResync",
            "Copy everything again (202), or join the sync that is already queued or running (200)",
        )
        .tag("datasync")
        .response(202, Some(run))
        .also(200, "Joined the sync that is already queued or running", super::schema::reference("JoinedRun"))
        .handler(post(full_resync)),
        Operation::new(Method::GET, format!("{base}/tokens"), "listFeedTokens", "Feed tokens, without secrets")
            .tag("datasync")
            .response(200, Some(json!({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": token}}})))
            .handler(get(list_tokens)),
        Operation::new(
            Method::POST,
            format!("{base}/tokens"),
            "createFeedToken",
            "Create a feed token; its secret is in this answer only",
        )
        .tag("datasync")
        .request(json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 100}}}))
        .response(201, Some(created_token))
        .handler(post(create_token)),
        Operation::new(
            Method::DELETE,
            format!("{base}/tokens/{{token}}"),
            "revokeFeedToken",
            "Revoke a feed token: Power BI refreshes with it fail with 401 from now on",
        )
        .tag("datasync")
        .response(204, None)
        .handler(delete(revoke_token)),
    ]
}

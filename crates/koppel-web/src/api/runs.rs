//! The run history over HTTP: list an administration's runs, read one with its items, follow one
//! live as Server-Sent Events, and cancel or retry one.
//!
//! Reading needs `read_data`. Cancelling or retrying needs the right that manages the run's
//! feature — `manage_datasync` for Data Sync, `sync_settings` for settings sync,
//! `manage_integrations` for AccountView — because stopping or repeating a sync is part of running
//! that feature; runs of kinds without a feature (diagnostics, housekeeping) need `write_data`.
//!
//! Runs carry a message for users in Dutch and English; the internal detail of a failure stays
//! with operators (logs and the database) and is never sent.

use super::path::{AdministrationPath, ApiPath, RunPath};
use super::schema::reference;
use super::time;
use super::{Endpoint, Operation};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use koppel_domain::AdministrationId;
use koppel_domain::record::FieldError;
use koppel_domain::rights::Right;
use koppel_jobs::RunId;
use koppel_jobs::runs::{CancelOutcome, Run, RunFilter, RunItem, RunStatus, Trigger};
use koppel_jobs::storage::jobs::{Enqueued, JobStatus};
use koppel_store::platform::Actor;
use koppel_store::{Store, StoreError};
use serde_json::{Value as Json, json};
use std::convert::Infallible;
use std::time::Duration;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;
const DEFAULT_ITEMS: u32 = 100;
const MAX_ITEMS: u32 = 1000;

/// The right that lets a caller stop or repeat runs of a kind.
pub fn managing_right(kind: &str) -> Right {
    match kind {
        "data_sync" => Right::ManageDatasync,
        "settings_sync" => Right::SyncSettings,
        "accountview_import" | "accountview_export" => Right::ManageIntegrations,
        _ => Right::WriteData,
    }
}

/// A run as the API shows it.
pub fn run_json(run: &Run) -> Json {
    json!({
        "id": run.id,
        "kind": run.kind,
        "trigger": run.trigger,
        "status": run.status,
        "started_by": run.started_by,
        "cancelled_by": run.cancelled_by,
        "retry_of": run.retry_of,
        "scheduled_for": run.scheduled_for.map(time),
        "attempts": run.attempts,
        "cancel_requested": run.cancel_requested,
        "recovering": run.recovering,
        "progress": {"done": run.progress_done, "total": run.progress_total},
        "counts": run.counts,
        "message": run.message,
        "queued_at": time(run.queued_at),
        "started_at": run.started_at.map(time),
        "finished_at": run.finished_at.map(time),
    })
}

fn item_json(item: &RunItem) -> Json {
    json!({"id": item.id, "key": item.key, "status": item.status, "message": item.message, "at": time(item.at)})
}

fn encode_cursor(id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("id:")?.parse().ok()
}

fn query_pairs(query: Result<Query<Vec<(String, String)>>, QueryRejection>) -> Result<Vec<(String, String)>, ApiError> {
    query
        .map(|Query(pairs)| pairs)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
}

fn limit(name: &str, value: &str, max: u32, errors: &mut Vec<FieldError>) -> Option<u32> {
    match value.parse::<u32>() {
        Ok(limit) if (1..=max).contains(&limit) => Some(limit),
        _ => {
            errors.push(FieldError::new(
                name,
                "invalid",
                format!("{name} must be between 1 and {max}"),
            ));
            None
        }
    }
}

fn cursor(name: &str, value: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
    let decoded = decode_cursor(value);
    if decoded.is_none() {
        errors.push(FieldError::new(
            name,
            "invalid",
            format!("{name} must be a cursor from a previous answer"),
        ));
    }
    decoded
}

/// A run of the administration, or 404 for runs that do not exist or belong elsewhere.
async fn find_run(store: &Store, administration: AdministrationId, run: RunId) -> Result<Run, ApiError> {
    koppel_jobs::runs::run(store, administration, run)
        .await
        .map_err(|error| ApiError::from_store(error, "run"))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(AdministrationPath { administration }): ApiPath<AdministrationPath>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(query)?;
    caller.require(&state, administration, Right::ReadData).await?;
    let mut filter = RunFilter {
        limit: DEFAULT_LIMIT,
        ..RunFilter::default()
    };
    let mut errors = Vec::new();
    for (name, value) in pairs {
        match name.as_str() {
            "cursor" => filter.before = cursor("cursor", &value, &mut errors).map(RunId),
            "limit" => filter.limit = limit("limit", &value, MAX_LIMIT, &mut errors).unwrap_or(DEFAULT_LIMIT),
            "kind" if !value.is_empty() && value.len() <= 100 => filter.kind = Some(value),
            "status" => match RunStatus::parse(&value) {
                Some(status) => filter.status = Some(status),
                None => errors.push(FieldError::new(
                    "status",
                    "invalid",
                    format!("status has no value '{value}'"),
                )),
            },
            "trigger" => match Trigger::parse(&value) {
                Some(trigger) => filter.trigger = Some(trigger),
                None => errors.push(FieldError::new(
                    "trigger",
                    "invalid",
                    format!("trigger has no value '{value}'"),
                )),
            },
            other => errors.push(FieldError::new(
                other,
                "unknown_parameter",
                format!("unknown query parameter {other}; use cursor, limit, kind, status or trigger"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let page = koppel_jobs::runs::list(&state.store, administration, &filter).await?;
    let items: Vec<Json> = page.runs.iter().map(run_json).collect();
    Ok(
        axum::Json(json!({"items": items, "next_cursor": page.next_before.map(|run| encode_cursor(run.0))}))
            .into_response(),
    )
}

async fn read(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(RunPath { administration, id }): ApiPath<RunPath>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(query)?;
    caller.require(&state, administration, Right::ReadData).await?;
    let mut after = None;
    let mut items_limit = DEFAULT_ITEMS;
    let mut errors = Vec::new();
    for (name, value) in pairs {
        match name.as_str() {
            "items_cursor" => after = cursor("items_cursor", &value, &mut errors),
            "items_limit" => {
                items_limit = limit("items_limit", &value, MAX_ITEMS, &mut errors).unwrap_or(DEFAULT_ITEMS)
            }
            other => errors.push(FieldError::new(
                other,
                "unknown_parameter",
                format!("unknown query parameter {other}; use items_cursor or items_limit"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let run = find_run(&state.store, administration, id).await?;
    let items = koppel_jobs::runs::items(&state.store, administration, id, after, items_limit).await?;
    let mut body = run_json(&run);
    body["items"] = items.items.iter().map(item_json).collect::<Vec<_>>().into();
    body["next_items_cursor"] = items.next_after.map(encode_cursor).into();
    Ok(axum::Json(body).into_response())
}

/// Where a run's event stream is: what was sent last, and whether the run has ended.
struct Follow {
    store: Store,
    administration: AdministrationId,
    run: RunId,
    interval: Duration,
    last: Option<Json>,
    first: bool,
    ended: bool,
}

/// The next event of a followed run: its state whenever it changes, `end` with the final state, or
/// `gone` when the run was deleted meanwhile. The database is polled, so a worker in another process
/// is followed just as well as one in this process.
async fn next_event(mut follow: Follow) -> Option<(Result<Event, Infallible>, Follow)> {
    if follow.ended {
        return None;
    }
    loop {
        if !follow.first {
            tokio::time::sleep(follow.interval).await;
        }
        follow.first = false;
        match koppel_jobs::runs::run(&follow.store, follow.administration, follow.run).await {
            Ok(run) => {
                let body = run_json(&run);
                if follow.last.as_ref() == Some(&body) {
                    continue;
                }
                follow.ended = run.status.is_finished();
                follow.last = Some(body.clone());
                let name = if follow.ended { "end" } else { "progress" };
                return Some((Ok(Event::default().event(name).data(body.to_string())), follow));
            }
            Err(StoreError::NotFound) => {
                follow.ended = true;
                return Some((Ok(Event::default().event("gone").data("{}")), follow));
            }
            Err(error) => {
                // Logged here; the client's EventSource reconnects after the stream ends.
                tracing::warn!(run.id = follow.run.0, error = %error, "reading a followed run failed; ending its stream");
                return None;
            }
        }
    }
}

async fn events(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(RunPath { administration, id }): ApiPath<RunPath>,
) -> Result<Response, ApiError> {
    caller.require(&state, administration, Right::ReadData).await?;
    find_run(&state.store, administration, id).await?;
    let follow = Follow {
        store: state.store.clone(),
        administration,
        run: id,
        interval: state.config.run_events_interval,
        last: None,
        first: true,
        ended: false,
    };
    let stream = futures_util::stream::unfold(follow, next_event);
    Ok((
        [(header::CACHE_CONTROL, "no-cache")],
        Sse::new(stream).keep_alive(KeepAlive::default()),
    )
        .into_response())
}

/// Reads the run and checks the caller may manage runs of its kind.
async fn managed_run(
    state: &AppState,
    caller: &Caller,
    administration: AdministrationId,
    id: RunId,
) -> Result<Run, ApiError> {
    let (found, rights) = caller.require(state, administration, Right::ReadData).await?;
    let run = find_run(&state.store, administration, id).await?;
    let right = managing_right(&run.kind);
    if !rights.has(right) {
        return Err(ApiError::forbidden(format!(
            "you need the right '{}' in administration '{}' to stop or repeat {} runs",
            right.as_str(),
            found.name,
            run.kind
        )));
    }
    Ok(run)
}

async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(RunPath { administration, id }): ApiPath<RunPath>,
) -> Result<Response, ApiError> {
    managed_run(&state, &caller, administration, id).await?;
    let outcome = koppel_jobs::runs::cancel(&state.store, administration, id, Actor(Some(caller.user.id))).await?;
    let run = find_run(&state.store, administration, id).await?;
    // A queued run is cancelled now; a running one stops at its worker's next heartbeat.
    let status = match outcome {
        CancelOutcome::Cancelled => StatusCode::OK,
        CancelOutcome::Requested => StatusCode::ACCEPTED,
    };
    Ok((status, axum::Json(run_json(&run))).into_response())
}

async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(RunPath { administration, id }): ApiPath<RunPath>,
) -> Result<Response, ApiError> {
    managed_run(&state, &caller, administration, id).await?;
    let enqueued = koppel_jobs::runs::retry(&state.store, administration, id, Actor(Some(caller.user.id))).await?;
    let run = find_run(&state.store, administration, enqueued.run()).await?;
    let location = format!("/api/v1/administrations/{administration}/runs/{}", run.id);
    Ok(match enqueued {
        Enqueued::Created { .. } => (
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            axum::Json(run_json(&run)),
        )
            .into_response(),
        // The same work is already queued or running: that run is the answer.
        Enqueued::Joined { status, .. } => {
            let mut body = run_json(&run);
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

pub fn endpoints() -> Vec<Endpoint> {
    let collection = "/api/v1/administrations/{administration}/runs";
    let item = "/api/v1/administrations/{administration}/runs/{id}";
    let statuses: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
    let triggers: Vec<&str> = Trigger::ALL.iter().map(|t| t.as_str()).collect();
    vec![
        Operation::new(
            Method::GET,
            collection,
            "listRuns",
            "Runs of background work in an administration, newest first",
        )
        .tag("runs")
        .query("cursor", "next_cursor of the previous page", json!({"type": "string"}))
        .query(
            "limit",
            "page size (1–200, default 50)",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
        )
        .query(
            "kind",
            "only runs of this kind, e.g. data_sync",
            json!({"type": "string"}),
        )
        .query(
            "status",
            "only runs with this status",
            json!({"type": "string", "enum": statuses}),
        )
        .query(
            "trigger",
            "only runs started this way",
            json!({"type": "string", "enum": triggers}),
        )
        .response(200, Some(reference("RunPage")))
        .handler(get(list)),
        Operation::new(Method::GET, item, "getRun", "One run with its item results (paged)")
            .tag("runs")
            .query(
                "items_cursor",
                "next_items_cursor of the previous answer",
                json!({"type": "string"}),
            )
            .query(
                "items_limit",
                "items per answer (1–1000, default 100)",
                json!({"type": "integer", "minimum": 1, "maximum": MAX_ITEMS}),
            )
            .response(200, Some(reference("RunWithItems")))
            .handler(get(read)),
        Operation::new(
            Method::GET,
            format!("{item}/events"),
            "followRun",
            "Live progress of a run as Server-Sent Events: a `progress` event with the run whenever it changes, \
             then `end` with its final state (or `gone` when it was deleted), after which the stream closes",
        )
        .tag("runs")
        .event_stream(
            "Events `progress` and `end` carry the run (components/schemas/Run) as JSON; `gone` carries {}.",
            reference("Run"),
        )
        .handler(get(events)),
        Operation::new(
            Method::POST,
            format!("{item}/cancel"),
            "cancelRun",
            "Cancel a run: a queued run at once (200), a running one at its next heartbeat (202)",
        )
        .tag("runs")
        .response(200, Some(reference("Run")))
        .handler(post(cancel)),
        Operation::new(
            Method::POST,
            format!("{item}/retry"),
            "retryRun",
            "Run a failed, cancelled or partially succeeded run again as a new run (201), or join the same work \
             when it is already queued or running (200)",
        )
        .tag("runs")
        .response(201, Some(reference("Run")))
        .also(
            200,
            "Joined: the same work is already queued or running; that run, with joined: true",
            reference("JoinedRun"),
        )
        .handler(post(retry)),
    ]
}

/// The schemas of the run endpoints, for `components.schemas`.
pub fn schemas() -> Json {
    let statuses: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
    let triggers: Vec<&str> = Trigger::ALL.iter().map(|t| t.as_str()).collect();
    let message = json!({"type": ["object", "null"], "required": ["nl", "en"], "description": "For users, in Dutch and English",
        "properties": {"nl": {"type": "string"}, "en": {"type": "string"}}});
    let time = json!({"type": "string", "format": "date-time"});
    let optional_time = json!({"type": ["string", "null"], "format": "date-time"});
    let optional_id = json!({"type": ["integer", "null"]});
    let run_properties = json!({
        "id": {"type": "integer"},
        "kind": {"type": "string", "description": "data_sync, settings_sync, accountview_import, accountview_export, prune_history, probe, …"},
        "trigger": {"type": "string", "enum": triggers},
        "status": {"type": "string", "enum": statuses},
        "started_by": optional_id, "cancelled_by": optional_id,
        "retry_of": {"type": ["integer", "null"], "description": "The run this one repeats"},
        "scheduled_for": {"type": ["string", "null"], "format": "date-time", "description": "The period a scheduled run is for"},
        "attempts": {"type": "integer"},
        "cancel_requested": {"type": "boolean"},
        "recovering": {"type": "boolean", "description": "Running, but its worker stopped (the lease ran out): another worker takes it over, or it is given up"},
        "progress": {"type": "object", "properties": {"done": {"type": "integer"}, "total": {"type": ["integer", "null"]}}},
        "counts": {"type": "object", "description": "What the run did, per table, item type or target; numbers, flags, texts and nested objects or lists, depending on the kind"},
        "message": message,
        "queued_at": time, "started_at": optional_time, "finished_at": optional_time,
    });
    let mut with_items = run_properties.clone();
    with_items["items"] = json!({"type": "array", "items": reference("RunItem")});
    with_items["next_items_cursor"] = json!({"type": ["string", "null"]});
    let mut joined = run_properties.clone();
    joined["joined"] =
        json!({"type": "boolean", "description": "true: this request joined work that was already queued or running"});
    joined["already"] = json!({"type": "string", "enum": ["queued", "running"]});
    json!({
        "Run": {"type": "object", "required": ["id", "kind", "trigger", "status", "queued_at"], "properties": run_properties},
        "JoinedRun": {"type": "object", "required": ["id", "kind", "trigger", "status", "queued_at", "joined"], "properties": joined},
        "RunWithItems": {"type": "object", "required": ["id", "kind", "status", "items"], "properties": with_items},
        "RunItem": {"type": "object", "required": ["id", "key", "status"], "properties": {
            "id": {"type": "integer"}, "key": {"type": "string"},
            "status": {"type": "string", "enum": ["succeeded", "failed", "skipped"]},
            "message": message, "at": time}},
        "RunPage": {"type": "object", "required": ["items", "next_cursor"], "properties": {
            "items": {"type": "array", "items": reference("Run")},
            "next_cursor": {"type": ["string", "null"], "description": "Pass as cursor to get the next (older) page; null on the last page"}}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_runs_need_the_feature_right_and_others_write_data() {
        assert_eq!(managing_right("data_sync"), Right::ManageDatasync);
        assert_eq!(managing_right("settings_sync"), Right::SyncSettings);
        assert_eq!(managing_right("accountview_export"), Right::ManageIntegrations);
        assert_eq!(managing_right("probe"), Right::WriteData);
        assert_eq!(decode_cursor(&encode_cursor(7)), Some(7));
    }
}

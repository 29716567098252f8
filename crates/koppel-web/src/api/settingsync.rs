//! Settings sync over the REST API: the subs of a main with their sync state, a preview, and
//! confirming a preview (which starts the sync as a background run; its status and history are the
//! run endpoints, `kind=settings_sync`).

use super::path::{AdministrationPath, ApiPath};
use super::{Endpoint, JsonBody, Operation};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use koppel_domain::AdministrationId;
use koppel_domain::licence::PowerUp;
use koppel_domain::record::FieldError;
use koppel_domain::rights::Right;
use koppel_settingsync::job::{Confirmation, confirm, targets};
use koppel_settingsync::{Selection, SettingsCategory, SettingsSyncError, SettingsSyncRequest, preview};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};

/// What the preview and confirm endpoints take.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncBody {
    targets: Vec<i64>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    items: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    mirror: bool,
    /// Confirm only: the digest of each target's plan as previewed, by target id.
    #[serde(default)]
    digests: Option<BTreeMap<String, String>>,
}

fn category(slug: &str, field: &str) -> Result<SettingsCategory, ApiError> {
    SettingsCategory::parse(slug).ok_or_else(|| {
        ApiError::invalid(vec![FieldError::new(
            field,
            "invalid",
            format!(
                "unknown category {slug}; use: {}",
                SettingsCategory::ALL.map(SettingsCategory::slug).join(", ")
            ),
        )])
    })
}

impl SyncBody {
    fn request(&self, source: AdministrationId) -> Result<SettingsSyncRequest, ApiError> {
        let mut selection = Selection {
            mirror: self.mirror,
            ..Selection::default()
        };
        for slug in &self.categories {
            selection.categories.insert(category(slug, "categories")?);
        }
        for (slug, codes) in &self.items {
            let codes: BTreeSet<String> = codes.iter().map(|c| c.trim().to_string()).collect();
            selection.items.insert(category(slug, "items")?, codes);
        }
        Ok(SettingsSyncRequest {
            source,
            targets: self.targets.iter().map(|id| AdministrationId(*id)).collect(),
            selection,
        })
    }
}

impl From<SettingsSyncError> for ApiError {
    fn from(error: SettingsSyncError) -> ApiError {
        let field = match &error {
            SettingsSyncError::Store(_) => None,
            SettingsSyncError::NotMain => Some("administration"),
            SettingsSyncError::NotASub(_) | SettingsSyncError::NoTargets => Some("targets"),
            SettingsSyncError::NoCategories => Some("categories"),
            SettingsSyncError::UnknownItem { .. } => Some("items"),
        };
        match (field, error) {
            (_, SettingsSyncError::Store(store)) => store.into(),
            (Some(field), error) => ApiError::invalid(vec![FieldError::new(field, error.code(), error.to_string())]),
            (None, error) => ApiError::internal(&error),
        }
    }
}

/// The main this request is about, after checking the right and the licence.
async fn authorise(state: &AppState, caller: &Caller, path: AdministrationPath) -> Result<AdministrationId, ApiError> {
    let found = caller
        .require_feature(
            state,
            path.administration,
            Right::SyncSettings,
            PowerUp::SubAdministrations,
        )
        .await?;
    Ok(found.id)
}

async fn list_targets(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
) -> Result<Response, ApiError> {
    let source = authorise(&state, &caller, path).await?;
    let items = targets(&state.store, source).await?;
    Ok(axum::Json(json!({"items": items})).into_response())
}

async fn preview_sync(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let source = authorise(&state, &caller, path).await?;
    let body: SyncBody = body.parse()?;
    let plan = preview(&state.store, &body.request(source)?).await?;
    Ok(axum::Json(plan).into_response())
}

async fn start_sync(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let source = authorise(&state, &caller, path).await?;
    let body: SyncBody = body.parse()?;
    let request = body.request(source)?;
    let Some(given) = &body.digests else {
        return Err(ApiError::invalid(vec![FieldError::new(
            "digests",
            "required",
            "confirm a preview: send the digest of every target's plan from the preview",
        )]));
    };
    let mut digests = BTreeMap::new();
    for (target, digest) in given {
        let target = target.parse::<i64>().map_err(|_| {
            ApiError::invalid(vec![FieldError::new(
                "digests",
                "invalid",
                "digests are keyed by target id",
            )])
        })?;
        digests.insert(AdministrationId(target), digest.clone());
    }
    let refused = |status: StatusCode, code: &str, message: &str, plan: &koppel_settingsync::Plan| {
        (
            status,
            axum::Json(json!({"error": {"code": code, "message": message}, "preview": plan})),
        )
            .into_response()
    };
    Ok(match confirm(&state.store, &request, &digests, caller.user.id).await? {
        Confirmation::Enqueued { run, joined } => {
            let location = format!("/api/v1/administrations/{source}/runs/{run}");
            let status = if joined { StatusCode::OK } else { StatusCode::ACCEPTED };
            let body = json!({"run_id": run, "joined": joined, "run": location});
            (status, [(header::LOCATION, location)], axum::Json(body)).into_response()
        }
        Confirmation::Outdated(plan) => refused(
            StatusCode::CONFLICT,
            "preview_outdated",
            "the settings changed after the preview; check the new preview and confirm again",
            &plan,
        ),
        Confirmation::Blocked(plan) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "blocked",
            "a target cannot be synced as previewed; see the blockers, deselect that target or resolve them",
            &plan,
        ),
    })
}

fn body_schema(with_digests: bool) -> Json {
    let categories: Vec<&str> = SettingsCategory::ALL.map(SettingsCategory::slug).to_vec();
    let mut schema = json!({
        "type": "object",
        "required": ["targets"],
        "additionalProperties": false,
        "properties": {
            "targets": {"type": "array", "items": {"type": "integer"}, "description": "Ids of sub-administrations of this main"},
            "categories": {"type": "array", "items": {"type": "string", "enum": categories}, "description": "Whole categories to sync"},
            "items": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                      "description": "Single items by code, per category; a category listed here syncs only these"},
            "mirror": {"type": "boolean", "default": false, "description": "Also remove what a target has in a whole category that the main lacks"},
        },
    });
    if with_digests {
        schema["required"] = json!(["targets", "digests"]);
        schema["properties"]["digests"] = json!({"type": "object", "additionalProperties": {"type": "string"},
            "description": "The digest of every target's plan from the preview, by target id"});
    }
    schema
}

fn plan_schema() -> Json {
    let item = json!({"type": "object", "required": ["category", "code", "name", "action", "changes"], "properties": {
        "category": {"type": "string"}, "code": {"type": "string"}, "name": {"type": "string"},
        "action": {"type": "string", "enum": ["create", "update", "remove", "unchanged"]},
        "changes": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "before": {"type": "string"}, "after": {"type": "string"}}}},
        "pulled_in_by": {"description": "[category, code] of the selected item that refers to this one"},
    }});
    json!({"type": "object", "required": ["source", "selection", "targets"], "properties": {
        "source": {"type": "integer"},
        "selection": {"type": "object"},
        "targets": {"type": "array", "items": {"type": "object", "required": ["target", "name", "items", "blockers", "digest"],
            "properties": {
                "target": {"type": "integer"}, "name": {"type": "string"}, "digest": {"type": "string"},
                "items": {"type": "array", "items": item},
                "blockers": {"type": "array", "items": {"type": "object"}},
            }}},
    }})
}

pub fn endpoints() -> Vec<Endpoint> {
    let base = "/api/v1/administrations/{administration}/settings-sync";
    vec![
        Operation::new(
            Method::GET,
            format!("{base}/targets"),
            "listSettingsSyncTargets",
            "The sub-administrations of a main, with when each last received settings and whether it has drifted since",
        )
        .tag("settings-sync")
        .response(
            200,
            Some(json!({"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
                "target": {"type": "integer"}, "name": {"type": "string"},
                "last_synced_at": {"type": ["string", "null"], "format": "date-time"}, "drifted": {"type": "boolean"}}}}}})),
        )
        .handler(get(list_targets)),
        Operation::new(
            Method::POST,
            format!("{base}/preview"),
            "previewSettingsSync",
            "Preview a settings sync: per target what is created, updated, removed or left alone, what is pulled in, what blocks",
        )
        .tag("settings-sync")
        .request(body_schema(false))
        .response(200, Some(plan_schema()))
        .handler(post(preview_sync)),
        Operation::new(
            Method::POST,
            base,
            "startSettingsSync",
            "Confirm a preview and start the sync as a background run (202); 409 with a fresh preview when anything \
             changed since, 422 when a target is blocked; 200 when a sync of this main is already running",
        )
        .tag("settings-sync")
        .request(body_schema(true))
        .response(
            202,
            Some(json!({"type": "object", "properties": {"run_id": {"type": "integer"}, "joined": {"type": "boolean"}, "run": {"type": "string"}}})),
        )
        .handler(post(start_sync)),
    ]
}

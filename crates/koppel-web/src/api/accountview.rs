//! The AccountView integration over the REST API: the connection's state, starting a sign-in, the
//! AccountView administrations the connected user may reach, the settings with the check before
//! saving, "import now" and "export now" (background runs), disconnecting, and the log (the runs of
//! `accountview_import` and `accountview_export` with their failed items).
//!
//! Everything here needs the `manage_integrations` right and the AccountView licence; both are
//! checked before a request body is read. Without an `[accountview]` configuration the status says
//! so and the other endpoints answer 503.

use super::path::{AdministrationPath, ApiPath};
use super::time;
use super::{Endpoint, JsonBody, Operation};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::extract::{FromRequest, OptionalFromRequest, Query, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use koppel_accountview::log::{LogFilter, LogQuery};
use koppel_accountview::settings::SaveError;
use koppel_accountview::{AccountView, AccountViewError, CheckReport, ConnectionState, ImportCategory, Settings};
use koppel_domain::AdministrationId;
use koppel_domain::record::FieldError;
use koppel_jobs::Enqueued;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use std::collections::HashMap;

/// Runs per page of the log.
pub const LOG_PAGE: u32 = 20;

/// The administration from the path, checked for the right and the licence.
async fn authorise(
    state: &AppState,
    caller: &Caller,
    administration: AdministrationId,
) -> Result<AdministrationId, ApiError> {
    let found = caller
        .require_feature(
            state,
            administration,
            koppel_accountview::REQUIRED_RIGHT,
            koppel_accountview::POWER_UP,
        )
        .await?;
    Ok(found.id)
}

/// The integration, or 503 when the operator has not configured it.
fn connector(state: &AppState) -> Result<&AccountView, ApiError> {
    state.accountview.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "accountview_not_configured",
            "the operator has not configured AccountView for this installation ([accountview] in the configuration)",
        )
    })
}

impl From<AccountViewError> for ApiError {
    fn from(error: AccountViewError) -> ApiError {
        match error {
            AccountViewError::NotConnected => ApiError::new(
                StatusCode::CONFLICT,
                "not_connected",
                "this administration is not connected to AccountView; sign in first",
            ),
            AccountViewError::AuthenticationExpired => ApiError::new(
                StatusCode::CONFLICT,
                "authentication_expired",
                koppel_accountview::authentication_expired_message().en,
            ),
            AccountViewError::NotConfigured => ApiError::new(
                StatusCode::CONFLICT,
                "not_saved",
                "choose the AccountView administration and save the settings first",
            ),
            AccountViewError::Api(api) => {
                tracing::warn!(error = %api, "an AccountView call failed");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "accountview_unavailable",
                    "AccountView did not answer as expected; try again later",
                )
            }
            AccountViewError::Store(store) => store.into(),
            AccountViewError::Crypto(crypto) => ApiError::internal(&crypto),
        }
    }
}

/// A JSON body, read only now (after authorisation).
async fn body<T: serde::de::DeserializeOwned>(state: &AppState, request: Request) -> Result<T, ApiError> {
    <JsonBody as FromRequest<AppState>>::from_request(request, state)
        .await?
        .parse()
}

async fn status_json(state: &AppState, administration: AdministrationId) -> Result<Json, ApiError> {
    let (status, connection) = match &state.accountview {
        Some(accountview) => accountview.state(administration).await?,
        None => (ConnectionState::NotConfigured, None),
    };
    let message =
        (status == ConnectionState::AuthenticationExpired).then(koppel_accountview::authentication_expired_message);
    Ok(json!({
        "status": status.code(),
        "configured": state.accountview.is_some(),
        "connected_at": connection.as_ref().map(|c| time(c.connected_at)),
        "saved_at": connection.as_ref().and_then(|c| c.saved_at).map(time),
        "company": connection.as_ref().and_then(|c| c.company.as_ref()).map(|c| json!({"id": c.id, "code": c.code, "name": c.name})),
        "message": message,
    }))
}

async fn read_status(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    Ok(axum::Json(status_json(&state, administration).await?).into_response())
}

async fn sign_in(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    let url = connector(&state)?.begin_sign_in(administration, caller.user.id).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"authorize_url": url}))).into_response())
}

async fn companies(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    let companies = connector(&state)?.companies(administration).await?;
    let items: Vec<Json> = companies
        .iter()
        .map(|c| json!({"id": c.id, "code": c.code, "description": c.description}))
        .collect();
    Ok(axum::Json(json!({"items": items})).into_response())
}

async fn read_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    let accountview = connector(&state)?;
    let saved = accountview.saved_settings(administration).await?;
    let mut codes = serde_json::Map::new();
    for (list, entries) in accountview.code_lists(administration).await? {
        let entries: Vec<Json> = entries
            .iter()
            .map(|e| json!({"code": e.code, "name": e.name, "blocked": e.blocked}))
            .collect();
        let name = serde_json::to_value(list)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        codes.insert(name, Json::Array(entries));
    }
    Ok(axum::Json(json!({
        "company": saved.company.as_ref().map(|c| json!({"id": c.id, "code": c.code, "name": c.name})),
        "company_locked": saved.company_locked,
        "settings": saved.settings,
        "codes": codes,
    }))
    .into_response())
}

/// What checking and saving take.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    company_id: String,
    #[serde(default)]
    settings: Option<Settings>,
}

fn check_json(report: &CheckReport) -> Json {
    json!({"ok": report.ok(), "items": report.items})
}

async fn check_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
    request: Request,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    let accountview = connector(&state)?;
    let body: SettingsBody = body(&state, request).await?;
    let saved = accountview.saved_settings(administration).await?;
    let settings = body.settings.unwrap_or(saved.settings);
    let report = accountview.check(administration, &body.company_id, &settings).await?;
    Ok(axum::Json(check_json(&report)).into_response())
}

async fn save_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
    request: Request,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    let accountview = connector(&state)?;
    let body: SettingsBody = body(&state, request).await?;
    let saved = accountview.saved_settings(administration).await?;
    let settings = body.settings.unwrap_or(saved.settings);
    match accountview.save(administration, &body.company_id, &settings).await {
        Ok(report) => Ok(axum::Json(json!({"saved": true, "check": check_json(&report)})).into_response()),
        Err(SaveError::CheckFailed(report)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({
                "error": {"code": "check_failed", "message": "the check before saving found problems; nothing was saved"},
                "check": check_json(&report),
            })),
        )
            .into_response()),
        Err(SaveError::CompanyLocked) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "company_locked",
            "the AccountView administration cannot be changed once saved; disconnect first",
        )),
        Err(SaveError::Sync(error)) => Err(error.into()),
    }
}

/// What "import now" takes: the categories (none: every category that is on).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportBody {
    #[serde(default)]
    categories: Vec<String>,
}

fn enqueued(administration: AdministrationId, enqueued: Enqueued) -> Response {
    let run = enqueued.run();
    let location = format!("/api/v1/administrations/{administration}/runs/{run}");
    let (status, joined) = if enqueued.is_new() {
        (StatusCode::ACCEPTED, false)
    } else {
        (StatusCode::OK, true)
    };
    let body = json!({"run_id": run, "joined": joined, "run": location});
    (status, [(header::LOCATION, location)], axum::Json(body)).into_response()
}

async fn import_now(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
    request: Request,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    let accountview = connector(&state)?;
    let body: ImportBody = match <JsonBody as OptionalFromRequest<AppState>>::from_request(request, &state).await? {
        Some(body) => body.parse()?,
        None => ImportBody::default(),
    };
    let mut categories = Vec::new();
    for slug in &body.categories {
        let category = ImportCategory::parse(slug).ok_or_else(|| {
            ApiError::invalid(vec![FieldError::new(
                "categories",
                "invalid",
                format!(
                    "unknown category {slug}; use: {}",
                    ImportCategory::ALL.map(ImportCategory::slug).join(", ")
                ),
            )])
        })?;
        categories.push(category);
    }
    let run = accountview
        .start_import(administration, categories, caller.user.id)
        .await?;
    Ok(enqueued(administration, run))
}

async fn export_now(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    let run = connector(&state)?.start_export(administration, caller.user.id).await?;
    Ok(enqueued(administration, run))
}

async fn disconnect(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    let disconnected = connector(&state)?.disconnect(administration).await?;
    Ok(axum::Json(json!({"disconnected": disconnected})).into_response())
}

async fn read_log(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<AdministrationPath>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let administration = authorise(&state, &caller, path.administration).await?;
    let filter = match query.get("errors").map(String::as_str) {
        None | Some("false") => LogFilter::All,
        Some("true") => LogFilter::Errors,
        Some(_) => return Err(ApiError::bad_request("invalid_query", "errors must be true or false")),
    };
    let before = match query.get("before") {
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| ApiError::bad_request("invalid_cursor", "before must be a run id"))?,
        ),
        None => None,
    };
    let query = LogQuery {
        filter,
        before: before.map(koppel_jobs::RunId),
        limit: LOG_PAGE,
    };
    let page = koppel_accountview::log::page(&state.store, administration, query).await?;
    let items: Vec<Json> = page
        .entries
        .iter()
        .map(|entry| {
            let mut run = super::runs::run_json(&entry.run);
            run["failed_items"] = entry
                .failed
                .iter()
                .map(|item| json!({"key": item.key, "message": item.message, "accountview_message": item.detail}))
                .collect();
            run
        })
        .collect();
    Ok(axum::Json(json!({"items": items, "next_before": page.next_before.map(|run| run.0)})).into_response())
}

fn settings_body_schema() -> Json {
    json!({"type": "object", "required": ["company_id"], "additionalProperties": false, "properties": {
        "company_id": {"type": "string", "description": "The Id of an AccountView administration from the companies endpoint"},
        "settings": {"type": "object", "description": "Import and export settings; left out: the stored ones", "properties": {
            "import": {"type": "object", "properties": {
                "categories": {"type": "array", "items": {"type": "string", "enum": ImportCategory::ALL.map(ImportCategory::slug)}},
                "include_blocked_debtors": {"type": "boolean"},
                "article_groups": {"type": "array", "items": {"type": "string"}}}},
            "export": {"type": "object", "properties": {
                "enabled": {"type": "boolean"},
                "trigger_status": {"type": "string"}, "done_status": {"type": "string"},
                "cut_off": {"type": ["string", "null"], "format": "date-time"},
                "sales_journal": {"type": ["string", "null"]}, "hours_account": {"type": ["string", "null"]},
                "materials_account": {"type": ["string", "null"]},
                "vat_codes": {"type": "object", "additionalProperties": {"type": "string"},
                              "description": "Koppel VAT rate (21, 9, 0, verlegd) to AccountView VAT code"},
                "cost_centre": {"type": ["string", "null"]}, "create_missing_debtors": {"type": "boolean"}}}}},
    }})
}

fn check_schema() -> Json {
    json!({"type": "object", "properties": {"ok": {"type": "boolean"}, "items": {"type": "array", "items": {
        "type": "object", "properties": {"key": {"type": "string"}, "ok": {"type": "boolean"},
        "message": {"type": "object", "properties": {"nl": {"type": "string"}, "en": {"type": "string"}}}}}}}})
}

fn enqueued_schema() -> Json {
    json!({"type": "object", "properties": {"run_id": {"type": "integer"}, "joined": {"type": "boolean"}, "run": {"type": "string"}}})
}

pub fn endpoints() -> Vec<Endpoint> {
    let base = "/api/v1/administrations/{administration}/accountview";
    vec![
        Operation::new(
            Method::GET,
            base,
            "getAccountView",
            "The AccountView connection of an administration: not configured, not connected, unsaved, connected or authentication expired",
        )
        .tag("accountview")
        .response(
            200,
            Some(json!({"type": "object", "properties": {
                "status": {"type": "string", "enum": ["not_configured", "not_connected", "unsaved", "connected", "authentication_expired"]},
                "configured": {"type": "boolean"},
                "connected_at": {"type": ["string", "null"], "format": "date-time"},
                "saved_at": {"type": ["string", "null"], "format": "date-time"},
                "company": {"type": ["object", "null"]},
                "message": {"type": ["object", "null"]}}})),
        )
        .handler(get(read_status)),
        Operation::new(
            Method::DELETE,
            base,
            "disconnectAccountView",
            "Disconnect: the tokens are deleted and syncing stops; what was imported or exported stays",
        )
        .tag("accountview")
        .response(200, Some(json!({"type": "object", "properties": {"disconnected": {"type": "boolean"}}})))
        .handler(delete(disconnect)),
        Operation::new(
            Method::POST,
            format!("{base}/sign-in"),
            "startAccountViewSignIn",
            "Start a sign-in: the address of AccountView's login and consent page; the callback completes it in the same user's browser session",
        )
        .tag("accountview")
        .response(201, Some(json!({"type": "object", "properties": {"authorize_url": {"type": "string"}}})))
        .handler(post(sign_in)),
        Operation::new(
            Method::GET,
            format!("{base}/companies"),
            "listAccountViewCompanies",
            "The AccountView administrations the connected AccountView user may reach",
        )
        .tag("accountview")
        .response(
            200,
            Some(json!({"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"}, "code": {"type": "string"}, "description": {"type": "string"}}}}}})),
        )
        .handler(get(companies)),
        Operation::new(
            Method::GET,
            format!("{base}/settings"),
            "getAccountViewSettings",
            "The chosen AccountView administration (locked once saved), the import and export settings, and the imported codes to choose from",
        )
        .tag("accountview")
        .response(200, Some(json!({"type": "object"})))
        .handler(get(read_settings)),
        Operation::new(
            Method::PUT,
            format!("{base}/settings"),
            "saveAccountViewSettings",
            "Check and save the AccountView administration and the settings; 422 with the check when it finds problems, 409 when another administration was saved before",
        )
        .tag("accountview")
        .request(settings_body_schema())
        .response(
            200,
            Some(json!({"type": "object", "properties": {"saved": {"type": "boolean"}, "check": check_schema()}})),
        )
        .handler(put(save_settings)),
        Operation::new(
            Method::POST,
            format!("{base}/settings/check"),
            "checkAccountViewSettings",
            "The check before saving: licence, AccountView administration, the AccountView user's rights, and every mapped code",
        )
        .tag("accountview")
        .request(settings_body_schema())
        .response(200, Some(check_schema()))
        .handler(post(check_settings)),
        Operation::new(
            Method::POST,
            format!("{base}/import"),
            "importFromAccountView",
            "Import now (all categories that are on, or the ones named) as a background run; 200 when one is already queued or running",
        )
        .tag("accountview")
        .request(json!({"type": "object", "additionalProperties": false, "properties": {
            "categories": {"type": "array", "items": {"type": "string", "enum": ImportCategory::ALL.map(ImportCategory::slug)}}}}))
        .response(202, Some(enqueued_schema()))
        .also(200, "Joined the run that is already queued or running (joined: true)", enqueued_schema())
        .handler(post(import_now)),
        Operation::new(
            Method::POST,
            format!("{base}/export"),
            "exportToAccountView",
            "Export the completed work orders now as a background run; 200 when one is already queued or running",
        )
        .tag("accountview")
        .response(202, Some(enqueued_schema()))
        .also(200, "Joined the run that is already queued or running (joined: true)", enqueued_schema())
        .handler(post(export_now)),
        Operation::new(
            Method::GET,
            format!("{base}/log"),
            "getAccountViewLog",
            "Recent imports and exports, newest first, each with its counts and failed items (AccountView's own message kept verbatim)",
        )
        .tag("accountview")
        .query("errors", "true: only runs that failed or partially succeeded", json!({"type": "boolean"}))
        .query("before", "the next_before of the previous page", json!({"type": "integer"}))
        .response(200, Some(json!({"type": "object", "properties": {
            "items": {"type": "array", "items": {"type": "object"}}, "next_before": {"type": ["integer", "null"]}}})))
        .handler(get(read_log)),
    ]
}

//! The Web API routes of accountview.md under `/api/v3`: the administrations a user may reach, the rights per
//! business object, and reading and writing `AccountViewData`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::{Caller, DataCaller};
use crate::catalog::{BUSINESS_OBJECTS, SCOPE_READ};
use crate::errors::{AvError, number};
use crate::state::Shared;
use crate::{pages, posting, query};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CompanyEntry<'a> {
    id: &'a str,
    code: &'a str,
    description: &'a str,
}

/// `GET /api/v3/Companies`: the administrations this user may reach. No `x-company` here; it is rate
/// limited per client with an empty company.
pub async fn companies(State(shared): State<Arc<Shared>>, caller: Caller) -> Result<Response, AvError> {
    let per_minute = shared.read().rate_limit_per_minute;
    shared
        .limiter()
        .check(&caller.client_id, "", per_minute, shared.clock.now())
        .map_err(AvError::rate_limited)?;
    let state = shared.read();
    let user = state
        .user(&caller.user)
        .ok_or_else(|| AvError::token_invalid("user no longer exists"))?;
    let entries: Vec<CompanyEntry<'_>> = user
        .administrations
        .iter()
        .filter_map(|id| state.administration(id))
        .map(|administration| CompanyEntry {
            id: &administration.id,
            code: &administration.code,
            description: &administration.description,
        })
        .collect();
    Ok(axum::Json(entries).into_response())
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BusinessObjectEntry {
    code: &'static str,
    description: &'static str,
    insert_allowed: bool,
    update_allowed: bool,
    delete_allowed: bool,
}

/// `GET /api/v3/AccountViewSystemBusinessObjects`: per business object the user can reach, what it may do.
/// It is a call about one administration, so it carries `x-company` like the data calls **(chosen)**.
pub async fn business_objects(State(shared): State<Arc<Shared>>, caller: DataCaller) -> Result<Response, AvError> {
    let state = shared.read();
    let user = state.user(&caller.caller.user).ok_or_else(AvError::company_forbidden)?;
    let entries: Vec<BusinessObjectEntry> = BUSINESS_OBJECTS
        .iter()
        .filter_map(|object| {
            let rights = user.rights_for(object.code)?;
            Some(BusinessObjectEntry {
                code: object.code,
                description: object.description,
                insert_allowed: rights.insert,
                update_allowed: rights.update,
                delete_allowed: rights.delete,
            })
        })
        .collect();
    Ok(axum::Json(entries).into_response())
}

/// `GET /api/v3/AccountViewData`.
pub async fn read_data(
    State(shared): State<Arc<Shared>>,
    caller: DataCaller,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, AvError> {
    caller.caller.require_scope(SCOPE_READ)?;
    let request = query::parse(raw_query.as_deref().unwrap_or(""))?;
    let state = shared.read();
    let may_read = state
        .user(&caller.caller.user)
        .and_then(|user| user.rights_for(request.object.code))
        .is_some_and(|rights| rights.read);
    if !may_read {
        return Err(AvError::no_right(request.object.code, "lezen"));
    }
    let administration = state
        .administration(&caller.company_id)
        .ok_or_else(AvError::company_forbidden)?;
    let result = query::execute(&request, administration);
    let body = query::to_json(&result).map_err(|error| {
        tracing::error!(error = %error, "serializing a read failed");
        AvError::new(StatusCode::INTERNAL_SERVER_ERROR, number::UNKNOWN_ROUTE, "Interne fout")
    })?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}

/// `POST /api/v3/AccountViewData`.
pub async fn write_data(
    State(shared): State<Arc<Shared>>,
    caller: DataCaller,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match body {
        Ok(body) => posting::handle(&shared, &caller, &body),
        Err(rejection) => AvError::new(
            rejection.status(),
            number::MALFORMED_BODY,
            format!("Aanvraag niet leesbaar: {rejection}"),
        )
        .into_response(),
    }
}

/// Unknown routes: AccountView's error shape under `/api`, a page elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        AvError::unknown_route().into_response()
    } else {
        pages::error(
            StatusCode::NOT_FOUND,
            "Deze pagina bestaat niet.",
            "This page does not exist.",
        )
    }
}

pub async fn method_not_allowed() -> Response {
    AvError::method_not_allowed().into_response()
}

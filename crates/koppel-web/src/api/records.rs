//! Daily-data and settings endpoints, generated from the resource specs: list, read, create,
//! update and delete in an administration, plus invoicing a completed work order.

use super::body::Page;
use super::path::{AdministrationPath, ApiPath, RecordPath};
use super::schema::{self, reference};
use super::{Endpoint, JsonBody, Operation};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use base64::Engine;
use chrono::{DateTime, Utc};
use koppel_domain::record::{self, Access, Area, FieldError, ResourceSpec};
use koppel_domain::rights::Right;
use koppel_domain::{AdministrationId, resources};
use koppel_store::invoicing::DEFAULT_PAYMENT_TERM_DAYS;
use koppel_store::records::{ListQuery, StoredRecord};
use serde_json::{Value as Json, json};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// A record as the API shows it.
pub fn render(spec: &ResourceSpec, record: &StoredRecord) -> Json {
    let mut object = serde_json::Map::with_capacity(spec.fields.len() + 3);
    object.insert("id".into(), Json::from(record.id.0));
    object.insert("created_at".into(), Json::String(super::time(record.created_at)));
    object.insert("modified_at".into(), Json::String(super::time(record.modified_at)));
    for (field, value) in spec.fields.iter().zip(&record.values) {
        object.insert(field.name.into(), record::render_field(field, value));
    }
    Json::Object(object)
}

fn encode_cursor(id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("id:")?.parse().ok()
}

/// Reads list parameters; anything unknown is refused rather than silently ignored.
fn list_query(spec: &ResourceSpec, pairs: Vec<(String, String)>) -> Result<ListQuery, ApiError> {
    let mut query = ListQuery {
        limit: DEFAULT_LIMIT,
        ..ListQuery::default()
    };
    let mut errors = Vec::new();
    let time = |name: &str, value: &str, errors: &mut Vec<FieldError>| {
        DateTime::parse_from_rfc3339(value)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                errors.push(FieldError::new(
                    name,
                    "invalid",
                    format!("{name} must be a time like 2026-11-22T09:30:00Z"),
                ))
            })
    };
    for (name, value) in pairs {
        match name.as_str() {
            "cursor" => match decode_cursor(&value) {
                Some(after) => query.after = Some(after),
                None => errors.push(FieldError::new("cursor", "invalid", "cursor must be a next_cursor from a previous page")),
            },
            "limit" => match value.parse::<u32>() {
                Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => query.limit = limit,
                _ => errors.push(FieldError::new("limit", "invalid", format!("limit must be between 1 and {MAX_LIMIT}"))),
            },
            "modified_since" => query.modified_since = time("modified_since", &value, &mut errors).ok(),
            "modified_before" => query.modified_before = time("modified_before", &value, &mut errors).ok(),
            other => match spec.field(other).filter(|(_, f)| spec.filterable().any(|g| g.name == f.name)) {
                Some((index, field)) => match record::parse_field(field, &Json::String(value.clone()))
                    .or_else(|_| value.parse::<i64>().map_err(|_| ()).and_then(|n| record::parse_field(field, &json!(n)).map_err(|_| ())))
                    .or_else(|_| value.parse::<bool>().map_err(|_| ()).and_then(|b| record::parse_field(field, &json!(b)).map_err(|_| ())))
                {
                    Ok(parsed) => query.filters.push((index, parsed)),
                    Err(()) => errors.push(FieldError::new(other, "invalid", format!("{other} has no valid value '{value}'"))),
                },
                None => errors.push(FieldError::new(
                    other,
                    "unknown_parameter",
                    format!(
                        "unknown query parameter {other}; use cursor, limit, modified_since, modified_before or one of: {}",
                        spec.filterable().map(|f| f.name).collect::<Vec<_>>().join(", ")
                    ),
                )),
            },
        }
    }
    if errors.is_empty() {
        Ok(query)
    } else {
        Err(ApiError::invalid(errors))
    }
}

async fn list(
    spec: &'static ResourceSpec,
    state: AppState,
    caller: Caller,
    administration: AdministrationId,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(pairs) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    caller.require(&state, administration, Right::ReadData).await?;
    let list_query = list_query(spec, pairs)?;
    let page = state.store.list_records(administration, spec, &list_query).await?;
    let items = page.records.iter().map(|r| render(spec, r)).collect();
    Ok(axum::Json(Page {
        items,
        next_cursor: page.next_after.map(encode_cursor),
    })
    .into_response())
}

async fn read(
    spec: &'static ResourceSpec,
    state: AppState,
    caller: Caller,
    RecordPath { administration, id }: RecordPath,
) -> Result<Response, ApiError> {
    caller.require(&state, administration, Right::ReadData).await?;
    let record = state
        .store
        .get_record(administration, spec, id)
        .await
        .map_err(|e| not_found(spec, e))?;
    Ok(axum::Json(render(spec, &record)).into_response())
}

async fn create(
    spec: &'static ResourceSpec,
    state: AppState,
    caller: Caller,
    administration: AdministrationId,
    body: JsonBody,
) -> Result<Response, ApiError> {
    caller.require(&state, administration, Right::WriteData).await?;
    let values = record::parse_create(spec, &body.0).map_err(ApiError::invalid)?;
    let record = state.store.create_record(administration, spec, values).await?;
    let location = format!("/api/v1/administrations/{}/{}/{}", administration, spec.slug, record.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(render(spec, &record)),
    )
        .into_response())
}

async fn update(
    spec: &'static ResourceSpec,
    state: AppState,
    caller: Caller,
    RecordPath { administration, id }: RecordPath,
    body: JsonBody,
) -> Result<Response, ApiError> {
    caller.require(&state, administration, Right::WriteData).await?;
    let patch = record::parse_patch(spec, &body.0).map_err(ApiError::invalid)?;
    let record = state
        .store
        .update_record(administration, spec, id, patch)
        .await
        .map_err(|e| not_found(spec, e))?;
    Ok(axum::Json(render(spec, &record)).into_response())
}

async fn remove(
    spec: &'static ResourceSpec,
    state: AppState,
    caller: Caller,
    RecordPath { administration, id }: RecordPath,
) -> Result<Response, ApiError> {
    caller.require(&state, administration, Right::WriteData).await?;
    state
        .store
        .delete_record(administration, spec, id)
        .await
        .map_err(|e| not_found(spec, e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn not_found(spec: &ResourceSpec, error: koppel_store::StoreError) -> ApiError {
    ApiError::from_store(error, &spec.title.to_lowercase())
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct InvoiceRequest {
    payment_term_days: Option<i64>,
}

async fn invoice(
    state: AppState,
    caller: Caller,
    RecordPath { administration, id }: RecordPath,
    body: Option<JsonBody>,
) -> Result<Response, ApiError> {
    caller.require(&state, administration, Right::WriteData).await?;
    let request: InvoiceRequest = match body {
        Some(body) => body.parse()?,
        None => InvoiceRequest::default(),
    };
    let days = request.payment_term_days.unwrap_or(DEFAULT_PAYMENT_TERM_DAYS);
    if !(0..=365).contains(&days) {
        return Err(ApiError::invalid(vec![FieldError::new(
            "payment_term_days",
            "invalid",
            "payment_term_days must be between 0 and 365",
        )]));
    }
    let invoice = state
        .store
        .invoice_work_order(administration, id, days)
        .await
        .map_err(|e| not_found(&resources::WORK_ORDERS, e))?;
    let location = format!("/api/v1/administrations/{}/invoices/{}", administration, invoice.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(render(&resources::INVOICES, &invoice)),
    )
        .into_response())
}

/// Whether clients may create records of this resource (invoices are made from work orders).
fn creatable(spec: &ResourceSpec) -> bool {
    spec.client_writable && !spec.fields.iter().any(|f| f.access == Access::System && f.required)
}

pub fn endpoints() -> Vec<Endpoint> {
    let mut endpoints = Vec::new();
    for spec in resources::ALL.iter().copied() {
        let collection = format!("/api/v1/administrations/{{administration}}/{}", spec.slug);
        let item = format!("{collection}/{{id}}");
        let name = schema::name(spec);
        let plural = spec.title.to_lowercase() + "s";
        let tag = match spec.area {
            Area::Daily => "daily data",
            Area::Settings => "settings",
        };
        let mut listing = Operation::new(
            Method::GET,
            &collection,
            format!("list{name}"),
            format!("List {plural}"),
        )
        .tag(tag)
        .query("cursor", "next_cursor of the previous page", json!({"type": "string"}))
        .query(
            "limit",
            "page size (1–500, default 50)",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
        )
        .query(
            "modified_since",
            "only records modified at or after this time",
            json!({"type": "string", "format": "date-time"}),
        )
        .query(
            "modified_before",
            "only records modified before this time",
            json!({"type": "string", "format": "date-time"}),
        );
        for field in spec.filterable() {
            listing = listing.query(
                field.name,
                &format!("only records with this {}", field.name),
                json!({"type": "string"}),
            );
        }
        endpoints.push(
            listing
                .response(200, Some(reference(&format!("{name}Page"))))
                .handler(get(
                    move |State(state): State<AppState>,
                          caller: Caller,
                          ApiPath(path): ApiPath<AdministrationPath>,
                          query| async move {
                        list(spec, state, caller, path.administration, query).await
                    },
                )),
        );
        if creatable(spec) {
            endpoints.push(
                Operation::new(
                    Method::POST,
                    &collection,
                    format!("create{name}"),
                    format!("Create a {}", spec.title.to_lowercase()),
                )
                .tag(tag)
                .request(reference(&format!("{name}Create")))
                .response(201, Some(reference(&name)))
                .handler(post(
                    move |State(state): State<AppState>,
                          caller: Caller,
                          ApiPath(path): ApiPath<AdministrationPath>,
                          body: JsonBody| async move {
                        create(spec, state, caller, path.administration, body).await
                    },
                )),
            );
        }
        endpoints.push(
            Operation::new(
                Method::GET,
                &item,
                format!("get{name}"),
                format!("Get a {}", spec.title.to_lowercase()),
            )
            .tag(tag)
            .response(200, Some(reference(&name)))
            .handler(get(
                move |State(state): State<AppState>, caller: Caller, ApiPath(path): ApiPath<RecordPath>| async move {
                    read(spec, state, caller, path).await
                },
            )),
        );
        if spec.client_writable {
            endpoints.push(
                Operation::new(
                    Method::PATCH,
                    &item,
                    format!("update{name}"),
                    format!("Change a {}", spec.title.to_lowercase()),
                )
                .tag(tag)
                .request(reference(&format!("{name}Patch")))
                .response(200, Some(reference(&name)))
                .handler(patch(
                    move |State(state): State<AppState>,
                          caller: Caller,
                          ApiPath(path): ApiPath<RecordPath>,
                          body: JsonBody| async move { update(spec, state, caller, path, body).await },
                )),
            );
            endpoints.push(
                Operation::new(
                    Method::DELETE,
                    &item,
                    format!("delete{name}"),
                    format!("Delete a {}", spec.title.to_lowercase()),
                )
                .tag(tag)
                .response(204, None)
                .handler(delete(
                    move |State(state): State<AppState>, caller: Caller, ApiPath(path): ApiPath<RecordPath>| async move {
                        remove(spec, state, caller, path).await
                    },
                )),
            );
        }
    }
    endpoints.push(
        Operation::new(
            Method::POST,
            "/api/v1/administrations/{administration}/work-orders/{id}/invoice",
            "invoiceWorkOrder",
            "Invoice a completed work order (hours × rate, materials × price, VAT per line); at most once",
        )
        .tag("daily data")
        .request(reference("InvoiceRequest"))
        .response(201, Some(reference("Invoice")))
        .handler(post(
            |State(state): State<AppState>,
             caller: Caller,
             ApiPath(path): ApiPath<RecordPath>,
             body: Option<JsonBody>| async move { invoice(state, caller, path, body).await },
        )),
    );
    endpoints
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("garbage!"), None);
    }
}

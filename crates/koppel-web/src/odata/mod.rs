//! The OData v4 feed Power BI reads: `/odata/v4/<feed>/` with the service document, CSDL XML
//! `$metadata`, the entity sets of the reporting dataset, `$count`, key lookup, server-driven paging
//! with a snapshot-pinned `$skiptoken`, ETags, and HTTP Basic with feed tokens.
//!
//! Pages are bounded (`Prefer: odata.maxpagesize` up to [`MAX_PAGE_SIZE`]), so memory per request is
//! bounded however large a table is; the client follows `@odata.nextLink`. Every page of one listing
//! reads the sync the first page was pinned to, so a sync that lands meanwhile shifts nothing.

use crate::AppState;
use crate::api::datasync::base_url;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use koppel_datasync::feed::{FeedColumn, FeedSet, SkipToken, feed, write_json_string, write_value};
use koppel_datasync::query::{Plan, plan, storage_columns};
use koppel_domain::AdministrationId;
use koppel_domain::licence::PowerUp;
use koppel_domain::record::Value;
use koppel_odata::{Error as ODataError, QueryOptions, parse_query};
use koppel_store::Store;
use koppel_store::StoreError;
use koppel_store::reporting::{FeedTokenCheck, ReportingRead, ReportingSource, SqlPiece};
use std::collections::HashMap;
use std::fmt::Write;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

/// Rows per page unless the client prefers fewer (or more, up to the cap).
pub const DEFAULT_PAGE_SIZE: u64 = 20_000;
pub const MAX_PAGE_SIZE: u64 = 50_000;

const REALM: &str = "Basic realm=\"Koppel Power BI feed\", charset=\"UTF-8\"";
const JSON_TYPE: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/odata/v4/{feed}", get(service_document))
        .route("/odata/v4/{feed}/", get(service_document))
        .route("/odata/v4/{feed}/{segment}", get(resource))
        .route("/odata/v4/{feed}/{segment}/{sub}", get(count))
}

/// An OData error answer: `{"error":{"code","message"}}` with `OData-Version`.
struct FeedError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl FeedError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> FeedError {
        FeedError {
            status,
            code,
            message: message.into(),
        }
    }

    fn unauthorized(message: impl Into<String>) -> FeedError {
        FeedError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
}

impl From<ODataError> for FeedError {
    fn from(error: ODataError) -> FeedError {
        let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::BAD_REQUEST);
        FeedError::new(status, error.code(), error.to_string())
    }
}

impl From<StoreError> for FeedError {
    fn from(error: StoreError) -> FeedError {
        match error {
            StoreError::Licence(licence) => FeedError::new(
                StatusCode::FORBIDDEN,
                "licence_inactive",
                format!("{licence}; the feed is closed until the Power BI power-up is active again"),
            ),
            error if error.is_transient() => FeedError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the database is busy; try again in a moment",
            ),
            other => {
                tracing::error!(error = %other, "feed request failed");
                FeedError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "something went wrong on our side; it has been logged",
                )
            }
        }
    }
}

impl IntoResponse for FeedError {
    fn into_response(self) -> Response {
        let mut body = String::from("{\"error\":{\"code\":");
        write_json_string(&mut body, self.code);
        body.push_str(",\"message\":");
        write_json_string(&mut body, &self.message);
        body.push_str("}}");
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_TYPE));
        headers.insert("odata-version", HeaderValue::from_static("4.0"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
        }
        response
    }
}

/// Checks HTTP Basic (user = feed name, password = feed token) and that the feed may be read.
async fn authenticate(state: &AppState, headers: &HeaderMap, feed_name: &str) -> Result<AdministrationId, FeedError> {
    let Some(administration) = koppel_datasync::parse_feed_name(feed_name) else {
        return Err(FeedError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "there is no feed with this name",
        ));
    };
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            FeedError::unauthorized("log in with HTTP Basic: the feed name as user name and a feed token as password")
        })?;
    let (user, password) = credentials
        .split_once(':')
        .ok_or_else(|| FeedError::unauthorized("the credentials must be user name and password"))?;
    if user != feed_name {
        return Err(FeedError::unauthorized(format!(
            "the user name must be the feed name {feed_name}"
        )));
    }
    match state.store.datasync_check_token(password).await? {
        FeedTokenCheck::Valid { administration: owner } if owner == administration => {}
        FeedTokenCheck::Revoked { administration: owner } if owner == administration => {
            return Err(FeedError::unauthorized(
                "this feed token has been revoked; create a new token under Settings → Data Sync and update the \
                 data source credentials in Power BI",
            ));
        }
        _ => return Err(FeedError::unauthorized("the feed token is not valid for this feed")),
    }
    let found = match state.store.administration(administration).await {
        Ok(found) => found,
        Err(StoreError::NotFound) => {
            return Err(FeedError::new(
                StatusCode::FORBIDDEN,
                "administration_deleted",
                "the administration of this feed has been deleted; the feed is closed",
            ));
        }
        Err(other) => return Err(other.into()),
    };
    state
        .store
        .require_licence(found.environment_id, PowerUp::PowerBi)
        .await?;
    Ok(administration)
}

fn root_url(headers: &HeaderMap, feed_name: &str) -> String {
    format!("{}/odata/v4/{feed_name}/", base_url(headers))
}

fn json_answer(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = (status, body.into()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_TYPE));
    headers.insert("odata-version", HeaderValue::from_static("4.0"));
    response
}

async fn service_document(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Response, FeedError> {
    let feed_name = &params["feed"];
    authenticate(&state, &headers, feed_name).await?;
    let root = root_url(&headers, feed_name);
    let mut body = String::from("{\"@odata.context\":");
    write_json_string(&mut body, &format!("{root}$metadata"));
    body.push_str(",\"value\":[");
    for (index, set) in feed().sets.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        let _ = write!(
            body,
            "{{\"name\":\"{0}\",\"kind\":\"EntitySet\",\"url\":\"{0}\"}}",
            set.name
        );
    }
    body.push_str("]}");
    Ok(json_answer(StatusCode::OK, body))
}

fn metadata_document() -> &'static str {
    static XML: OnceLock<String> = OnceLock::new();
    XML.get_or_init(|| koppel_odata::csdl::metadata_xml(&feed().model).expect("the feed model is valid"))
}

/// `Set`, `Set(key)` or `$metadata`.
async fn resource(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Response, FeedError> {
    let feed_name = params["feed"].clone();
    let segment = params["segment"].clone();
    let administration = authenticate(&state, &headers, &feed_name).await?;
    if segment == "$metadata" {
        // Power BI needs XML here whatever its Accept header prefers.
        let mut response = metadata_document().into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml;charset=utf-8"),
        );
        response
            .headers_mut()
            .insert("odata-version", HeaderValue::from_static("4.0"));
        return Ok(response);
    }
    let (set_name, key) = match segment.split_once('(') {
        Some((name, rest)) => {
            let key = rest
                .strip_suffix(')')
                .and_then(|key| key.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    FeedError::new(
                        StatusCode::BAD_REQUEST,
                        "malformed_key",
                        format!("`{segment}`: the key must be a whole number, e.g. {name}(42)"),
                    )
                })?;
            (name.to_string(), Some(key))
        }
        None => (segment.clone(), None),
    };
    let set = feed().set(&set_name).ok_or_else(|| {
        FeedError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("the feed has no entity set `{set_name}`"),
        )
    })?;
    let raw_query = uri.query().unwrap_or("");
    let options = parse_query(raw_query)?;
    let status = state.store.datasync_state(administration).await?;
    let context = Listing {
        state: &state,
        headers: &headers,
        feed_name: &feed_name,
        administration,
        set,
        raw_query,
    };
    match key {
        Some(key) => context.entity(&options, status.current_sync, key).await,
        None => {
            context
                .collection(&options, status.current_sync, status.oldest_sync)
                .await
        }
    }
}

struct Listing<'a> {
    state: &'a AppState,
    headers: &'a HeaderMap,
    feed_name: &'a str,
    administration: AdministrationId,
    set: &'static FeedSet,
    raw_query: &'a str,
}

fn etag(sync: i64, path: &str, query: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (path, query).hash(&mut hasher);
    format!("W/\"s{sync}-{:016x}\"", hasher.finish())
}

fn not_modified(headers: &HeaderMap, tag: &str) -> Option<Response> {
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|candidate| candidate.trim() == tag || candidate.trim() == "*")
        });
    matches.then(|| {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(value) = HeaderValue::from_str(tag) {
            response.headers_mut().insert(header::ETAG, value);
        }
        response
            .headers_mut()
            .insert("odata-version", HeaderValue::from_static("4.0"));
        response
    })
}

fn with_etag(mut response: Response, tag: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The page size the client prefers, capped, and whether the preference was applied.
fn page_size(headers: &HeaderMap) -> (u64, Option<u64>) {
    let preferred = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let (name, value) = item.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("odata.maxpagesize")
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())?
        })
        .next();
    match preferred {
        Some(size) if size > 0 => {
            let applied = size.min(MAX_PAGE_SIZE);
            (applied, Some(applied))
        }
        _ => (DEFAULT_PAGE_SIZE, None),
    }
}

fn write_row(body: &mut String, columns: &[&FeedColumn], row: &[Value]) {
    body.push('{');
    for (index, (column, value)) in columns.iter().zip(row).enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push('"');
        body.push_str(&column.property);
        body.push_str("\":");
        write_value(body, column, value);
    }
    body.push('}');
}

/// The query string for a next link: the client's options without its skip token, spaces as %20.
fn next_query(raw_query: &str, token: &SkipToken) -> String {
    let mut parts: Vec<String> = raw_query
        .split('&')
        .filter(|part| !part.is_empty())
        .filter(|part| {
            let name = part.split('=').next().unwrap_or("");
            let name = koppel_odata::query::percent_decode(name)
                .unwrap_or_default()
                .to_lowercase();
            name != "$skiptoken" && name != "skiptoken"
        })
        .map(|part| part.replace(['+', ' '], "%20"))
        .collect();
    parts.push(format!("$skiptoken={}", token.encode()));
    parts.join("&")
}

impl Listing<'_> {
    fn context_url(&self, plan: &Plan<'_>, options: &QueryOptions, entity: bool) -> String {
        let mut url = format!("{}$metadata#{}", root_url(self.headers, self.feed_name), self.set.name);
        if options.select.is_some() {
            let names: Vec<&str> = plan.columns.iter().map(|c| c.property.as_str()).collect();
            let _ = write!(url, "({})", names.join(","));
        }
        if entity {
            url.push_str("/$entity");
        }
        url
    }

    async fn entity(&self, options: &QueryOptions, sync: i64, key: i64) -> Result<Response, FeedError> {
        let plan = plan(self.set, options, self.state.store.backend())?;
        let tag = etag(sync, &format!("{}({key})", self.set.name), self.raw_query);
        if let Some(response) = not_modified(self.headers, &tag) {
            return Ok(response);
        }
        let columns = storage_columns(&plan);
        let filter = vec![
            SqlPiece::Sql(format!("{} = ", self.set.source.key())),
            SqlPiece::Bind(Value::Integer(key)),
        ];
        let read = ReportingRead {
            administration: self.administration,
            source: self.set.source,
            sync,
            columns: &columns,
            filter: &filter,
            order: &[],
            after_key: None,
            offset: 0,
            limit: 1,
        };
        let rows = self.state.store.reporting_rows(&read).await?;
        let Some(row) = rows.first() else {
            return Err(FeedError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{} has no entity with key {key}", self.set.name),
            ));
        };
        let mut body = String::from("{\"@odata.context\":");
        write_json_string(&mut body, &self.context_url(&plan, options, true));
        let mut entity = String::new();
        write_row(&mut entity, &plan.columns, row);
        body.push(',');
        body.push_str(&entity[1..]);
        Ok(with_etag(json_answer(StatusCode::OK, body), &tag))
    }

    async fn collection(&self, options: &QueryOptions, current: i64, oldest: i64) -> Result<Response, FeedError> {
        let token = match &options.skiptoken {
            None => None,
            Some(text) => Some(SkipToken::decode(text).ok_or_else(|| {
                FeedError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_query",
                    "$skiptoken: not a skip token of this feed; follow @odata.nextLink as given",
                )
            })?),
        };
        let sync = token.map_or(current, |token| token.sync);
        if sync > current {
            return Err(FeedError::new(
                StatusCode::BAD_REQUEST,
                "malformed_query",
                "$skiptoken: not a skip token of this feed",
            ));
        }
        if sync < oldest {
            return Err(FeedError::new(
                StatusCode::GONE,
                "snapshot_expired",
                "the data snapshot this listing was reading has expired because the refresh took too long; \
                 start the refresh again",
            ));
        }
        let plan = plan(self.set, options, self.state.store.backend())?;
        let tag = etag(sync, self.set.name, self.raw_query);
        if let Some(response) = not_modified(self.headers, &tag) {
            return Ok(response);
        }
        let (page_size, applied) = page_size(self.headers);
        let served = token.map_or(0, |token| token.served);
        let remaining = options.top.map(|top| top.saturating_sub(served));
        let limit = remaining.map_or(page_size, |remaining| remaining.min(page_size));
        let keyset = plan.order.is_empty();
        let skip = options.skip.unwrap_or(0);
        let (after_key, offset) = match (keyset, token) {
            (true, Some(token)) => (Some(token.last_key), 0),
            (true, None) => (None, skip),
            (false, _) => (None, skip + served),
        };
        let mut read_columns = storage_columns(&plan);
        // The key last, for the next page's cursor.
        read_columns.push((self.set.source.key(), koppel_domain::record::StorageType::Integer));
        let read = ReportingRead {
            administration: self.administration,
            source: self.set.source,
            sync,
            columns: &read_columns,
            filter: &plan.filter,
            order: &plan.order,
            after_key,
            offset,
            limit: limit + 1,
        };
        let mut head = String::with_capacity(256);
        head.push_str("{\"@odata.context\":");
        write_json_string(&mut head, &self.context_url(&plan, options, false));
        if options.count {
            let count = self.state.store.reporting_count(&read).await?;
            let _ = write!(head, ",\"@odata.count\":{count}");
        }
        head.push_str(",\"value\":[");
        let page = StreamedPage {
            store: self.state.store.clone(),
            administration: self.administration,
            source: self.set.source,
            sync,
            read_columns: read_columns.clone(),
            filter: plan.filter.clone(),
            order: plan.order.clone(),
            after_key,
            offset,
            limit,
            may_continue: remaining.is_none_or(|remaining| remaining > limit),
            columns: plan.columns.clone(),
            served,
            next_link_base: format!("{}{}?", root_url(self.headers, self.feed_name), self.set.name),
            raw_query: self.raw_query.to_string(),
            head,
        };
        let body = page.stream();
        let mut response = with_etag(json_answer(StatusCode::OK, body), &tag);
        if let Some(applied) = applied
            && let Ok(value) = HeaderValue::from_str(&format!("odata.maxpagesize={applied}"))
        {
            response.headers_mut().insert("preference-applied", value);
        }
        Ok(response)
    }
}

/// `Set/$count`: the number of entities (after `$filter`) as plain text.
async fn count(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Response, FeedError> {
    let feed_name = params["feed"].clone();
    let administration = authenticate(&state, &headers, &feed_name).await?;
    if params["sub"] != "$count" {
        return Err(FeedError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            "only /$count is supported after an entity set",
        ));
    }
    let set = feed()
        .set(&params["segment"])
        .ok_or_else(|| FeedError::new(StatusCode::NOT_FOUND, "not_found", "the feed has no such entity set"))?;
    let options = parse_query(uri.query().unwrap_or(""))?;
    let plan = plan(set, &options, state.store.backend())?;
    let status = state.store.datasync_state(administration).await?;
    let columns = storage_columns(&plan);
    let read = ReportingRead {
        administration,
        source: set.source,
        sync: status.current_sync,
        columns: &columns,
        filter: &plan.filter,
        order: &[],
        after_key: None,
        offset: 0,
        limit: 0,
    };
    let count = state.store.reporting_count(&read).await?;
    let mut response = count.to_string().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=utf-8"),
    );
    response
        .headers_mut()
        .insert("odata-version", HeaderValue::from_static("4.0"));
    Ok(response)
}

/// Bytes of a page body sent at a time; with the channels' capacities this bounds a page's memory.
const CHUNK_BYTES: usize = 64 * 1024;

/// One page of a listing, written while its rows come from the database.
struct StreamedPage {
    store: Store,
    administration: AdministrationId,
    source: ReportingSource,
    sync: i64,
    read_columns: Vec<(&'static str, koppel_domain::record::StorageType)>,
    filter: Vec<SqlPiece>,
    order: Vec<Vec<SqlPiece>>,
    after_key: Option<i64>,
    offset: u64,
    limit: u64,
    /// Whether `$top` leaves room for another page.
    may_continue: bool,
    columns: Vec<&'static FeedColumn>,
    served: u64,
    next_link_base: String,
    raw_query: String,
    /// Everything before the first row.
    head: String,
}

impl StreamedPage {
    /// The page as a streaming body: a task reads rows (one more than the page, to know whether
    /// another page follows) and writes JSON chunks; bounded channels keep memory flat. A database
    /// error after the answer has started cuts the body short (the client sees invalid JSON and
    /// retries); it is logged.
    fn stream(self) -> Body {
        let (chunks, receiver) = tokio::sync::mpsc::channel::<Bytes>(4);
        tokio::spawn(async move {
            // Batches of rows (`koppel_store::reporting::SEND_BATCH` each): a few in flight at most.
            let (rows, mut incoming) = tokio::sync::mpsc::channel::<Vec<Vec<Value>>>(4);
            let read = ReportingRead {
                administration: self.administration,
                source: self.source,
                sync: self.sync,
                columns: &self.read_columns,
                filter: &self.filter,
                order: &self.order,
                after_key: self.after_key,
                offset: self.offset,
                limit: self.limit + 1,
            };
            let produce = self.store.reporting_send(&read, rows);
            let columns = &self.columns;
            let consume = async {
                let mut buffer = self.head.clone();
                let mut written = 0_u64;
                let mut last_key = 0;
                let mut more = false;
                'rows: while let Some(batch) = incoming.recv().await {
                    for row in batch {
                        if written == self.limit {
                            more = self.may_continue;
                            break 'rows;
                        }
                        if written > 0 {
                            buffer.push(',');
                        }
                        write_row(&mut buffer, columns, &row[..columns.len()]);
                        last_key = row.last().and_then(Value::as_i64).unwrap_or(last_key);
                        written += 1;
                    }
                    if buffer.len() >= CHUNK_BYTES {
                        // The next chunk starts at full size instead of growing through reallocations.
                        let full = std::mem::replace(&mut buffer, String::with_capacity(CHUNK_BYTES * 2));
                        if chunks.send(Bytes::from(full)).await.is_err() {
                            return;
                        }
                    }
                }
                drop(incoming);
                buffer.push(']');
                if more {
                    let next = SkipToken {
                        sync: self.sync,
                        served: self.served + written,
                        last_key,
                    };
                    let link = format!("{}{}", self.next_link_base, next_query(&self.raw_query, &next));
                    buffer.push_str(",\"@odata.nextLink\":");
                    write_json_string(&mut buffer, &link);
                }
                buffer.push('}');
                let _ = chunks.send(Bytes::from(buffer)).await;
            };
            let (produced, ()) = tokio::join!(produce, consume);
            if let Err(error) = produced {
                tracing::error!(error = %error, "reading a feed page failed after its answer started");
            }
        });
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver
                .recv()
                .await
                .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), receiver))
        });
        Body::from_stream(stream)
    }
}

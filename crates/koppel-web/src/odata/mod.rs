//! The OData v4 feed Power BI reads: `/odata/v4/<feed>/` with the service document, CSDL XML
//! `$metadata`, the entity sets of the reporting dataset, `$count`, key lookup (`Set(1)`,
//! `Set(Id=1)`), single properties and their raw values, server-driven paging with a
//! snapshot-pinned `$skiptoken`, ETags with `Vary`, and HTTP Basic with feed tokens.
//!
//! Pages are bounded (`Prefer: odata.maxpagesize` up to [`koppel_datasync::read::MAX_PAGE_SIZE`]),
//! so memory per request is bounded however large a table is; the client follows
//! `@odata.nextLink`. Every page of one listing reads the sync the first page was pinned to, so a
//! sync that lands meanwhile shifts nothing. Absolute URLs start at the request's external address
//! ([`ExternalBase`]).
//!
//! This module speaks HTTP and writes JSON only: what is read, at which sync, and how a listing is
//! paged is Data Sync's ([`koppel_datasync::read`]).

mod negotiate;
mod page;

use crate::AppState;
use crate::error::{BUSY, StoreFailure};
use crate::external::ExternalBase;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use koppel_datasync::feed::{FeedColumn, FeedSet, feed, write_json_string, write_value};
use koppel_datasync::read::{PageSize, ReadError, Snapshot};
use koppel_datasync::tokens::FeedAccessError;
use koppel_domain::AdministrationId;
use koppel_domain::record::Value;
use koppel_odata::{Error as ODataError, QueryOptions, parse_query};
use koppel_store::StoreError;
use negotiate::{JsonFormat, Metadata};
use page::{PageWriter, write_property, write_row};
use sha2::Digest;
use std::fmt::Write;
use std::sync::OnceLock;

const REALM: &str = "Basic realm=\"Koppel Power BI feed\", charset=\"UTF-8\"";
const TEXT_TYPE: &str = "text/plain;charset=utf-8";
/// What the body of a data answer depends on besides its URL: the format (`Accept`), the content
/// coding, the page size (`Prefer`) and who asks.
const DATA_VARY: &str = "Accept, Accept-Encoding, Prefer, Authorization";
/// `$metadata`, `/$count` and `/$value` do not depend on `Accept` or `Prefer`.
const PLAIN_VARY: &str = "Accept-Encoding, Authorization";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/odata/v4/{feed}", get(service_document))
        .route("/odata/v4/{feed}/", get(service_document))
        .route("/odata/v4/{feed}/{*path}", get(resource))
        .method_not_allowed_fallback(|| async {
            FeedError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "the feed is read-only: use GET",
            )
        })
}

/// An OData error answer: `{"error":{"code","message"}}` with `OData-Version`.
#[derive(Debug)]
pub(crate) struct FeedError {
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

    fn not_found(message: impl Into<String>) -> FeedError {
        FeedError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// Before the administration's first sync there is nothing to read; saying so beats empty
    /// tables. 409 (the data is not in a readable state yet), not 503: Power Query retries a 503
    /// three times with back-off before it shows anything, and waiting does not help unless
    /// somebody syncs; a 409 shows this message at once.
    fn not_synced() -> FeedError {
        FeedError::new(
            StatusCode::CONFLICT,
            "not_synced_yet",
            "Er zijn nog geen gegevens: deze administratie is nog niet gesynchroniseerd. Klik in Koppel onder \
             Instellingen → Data Sync op \"Nu synchroniseren\" (of zet Autosync aan) en vernieuw daarna. / \
             No data yet: this administration has not been synced. In Koppel, go to Settings → Data Sync and \
             click \"Sync now\" (or switch Autosync on), then refresh.",
        )
    }
}

impl From<ODataError> for FeedError {
    fn from(error: ODataError) -> FeedError {
        let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::BAD_REQUEST);
        FeedError::new(status, error.code(), error.to_string())
    }
}

impl From<ReadError> for FeedError {
    fn from(error: ReadError) -> FeedError {
        match error {
            ReadError::NotSyncedYet => FeedError::not_synced(),
            ReadError::UnreadableSkipToken => FeedError::new(
                StatusCode::BAD_REQUEST,
                "malformed_query",
                "$skiptoken: not a skip token of this feed; follow @odata.nextLink as given",
            ),
            ReadError::ForeignSkipToken => FeedError::new(
                StatusCode::BAD_REQUEST,
                "malformed_query",
                "$skiptoken: not a skip token of this feed",
            ),
            ReadError::SnapshotExpired => FeedError::new(
                StatusCode::GONE,
                "snapshot_expired",
                "the data snapshot this listing was reading has expired because the refresh took too long; \
                 start the refresh again",
            ),
            ReadError::Query(error) => error.into(),
            ReadError::NoEntity { set, key } => FeedError::not_found(format!("{set} has no entity with key {key}")),
            ReadError::Store(error) => error.into(),
        }
    }
}

impl From<StoreError> for FeedError {
    fn from(error: StoreError) -> FeedError {
        match StoreFailure::of(&error) {
            StoreFailure::Licence(licence) => FeedError::new(
                StatusCode::FORBIDDEN,
                "licence_inactive",
                format!("{licence}; the feed is closed until the Power BI power-up is active again"),
            ),
            StoreFailure::Unavailable => FeedError::new(StatusCode::SERVICE_UNAVAILABLE, BUSY.0, BUSY.1),
            StoreFailure::TooComplex => {
                tracing::info!(error = %error, "a feed query was too complex for the database");
                FeedError::new(
                    StatusCode::BAD_REQUEST,
                    "query_too_complex",
                    "De query is te groot of te diep genest voor de database; gebruik minder termen in $filter \
                     of $orderby. / The query is too large or too deeply nested for the database; use fewer \
                     terms in $filter or $orderby.",
                )
            }
            // The feed only reads: what it asks for exists once the token is checked, and it writes
            // nothing that could conflict or be invalid, so any of these is a failure of ours.
            StoreFailure::NotFound
            | StoreFailure::Conflict { .. }
            | StoreFailure::Invalid(_)
            | StoreFailure::Internal => {
                tracing::error!(error = %error, "feed request failed");
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
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(JsonFormat::default().content_type()),
        );
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
        return Err(FeedError::not_found("there is no feed with this name"));
    };
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::auth::credentials_of(v, "basic"))
        .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded).ok())
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
    match koppel_datasync::tokens::authorise_reader(&state.store, administration, password).await {
        Ok(()) => {}
        Err(FeedAccessError::Revoked) => {
            return Err(FeedError::unauthorized(
                "this feed token has been revoked; create a new token under Settings → Data Sync and update the \
                 data source credentials in Power BI",
            ));
        }
        Err(FeedAccessError::NotValid) => {
            return Err(FeedError::unauthorized("the feed token is not valid for this feed"));
        }
        Err(FeedAccessError::AdministrationDeleted) => {
            return Err(FeedError::new(
                StatusCode::FORBIDDEN,
                "administration_deleted",
                "the administration of this feed has been deleted; the feed is closed",
            ));
        }
        Err(FeedAccessError::Store(error)) => return Err(error.into()),
    }
    Ok(administration)
}

fn root_url(external: &ExternalBase, feed_name: &str) -> String {
    format!("{}/odata/v4/{feed_name}/", external.url())
}

fn json_answer(status: StatusCode, body: impl Into<Body>, format: &JsonFormat) -> Response {
    let mut response = (status, body.into()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    headers.insert("odata-version", HeaderValue::from_static("4.0"));
    response
}

fn text_answer(body: String) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_TYPE));
    headers.insert("odata-version", HeaderValue::from_static("4.0"));
    response
}

/// `@odata.context` (with minimal metadata) as the first member of a JSON object being written.
fn open_object(body: &mut String, format: &JsonFormat, context: impl FnOnce() -> String) {
    body.push('{');
    if format.metadata == Metadata::Minimal {
        body.push_str("\"@odata.context\":");
        write_json_string(body, &context());
        body.push(',');
    }
}

async fn service_document(
    State(state): State<AppState>,
    external: ExternalBase,
    headers: HeaderMap,
    uri: Uri,
    Path(feed_name): Path<String>,
) -> Result<Response, FeedError> {
    authenticate(&state, &headers, &feed_name).await?;
    let (_, format) = negotiate::take_format(uri.query().unwrap_or(""))?;
    let format = negotiate::json_format(&headers, format.as_deref())?;
    let mut body = String::new();
    open_object(&mut body, &format, || {
        format!("{}$metadata", root_url(&external, &feed_name))
    });
    body.push_str("\"value\":[");
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
    let mut response = json_answer(StatusCode::OK, body, &format);
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static(DATA_VARY));
    Ok(response)
}

fn metadata_document() -> &'static str {
    static XML: OnceLock<String> = OnceLock::new();
    XML.get_or_init(|| koppel_odata::csdl::metadata_xml(&feed().model).expect("the feed model is valid"))
}

/// What a path below the feed's root addresses.
enum Target {
    Metadata,
    Collection(&'static FeedSet),
    Count(&'static FeedSet),
    Entity(&'static FeedSet, i64),
    /// `Set(key)/Property`, or its raw value with `/$value`.
    Property {
        set: &'static FeedSet,
        key: i64,
        column: &'static FeedColumn,
        raw: bool,
    },
}

impl Target {
    /// Parses the (percent-decoded) path after `/odata/v4/<feed>/`. One trailing slash is allowed.
    fn parse(path: &str) -> Result<Target, FeedError> {
        let mut segments: Vec<&str> = path.split('/').collect();
        if segments.len() > 1 && segments.last() == Some(&"") {
            segments.pop();
        }
        let first = segments[0];
        if first == "$metadata" {
            return match segments.len() {
                1 => Ok(Target::Metadata),
                _ => Err(FeedError::not_found("$metadata has no parts")),
            };
        }
        let (name, key) = match first.split_once('(') {
            Some((name, rest)) => (name, Some(rest)),
            None => (first, None),
        };
        let set = feed()
            .set(name)
            .ok_or_else(|| FeedError::not_found(format!("the feed has no entity set `{name}`")))?;
        let key = key.map(|rest| parse_key(set, first, rest)).transpose()?;
        let property = |property: &str| {
            set.column(property)
                .ok_or_else(|| FeedError::not_found(format!("{} has no property `{property}`", set.name)))
        };
        match (key, &segments[1..]) {
            (None, []) => Ok(Target::Collection(set)),
            (None, ["$count"]) => Ok(Target::Count(set)),
            (Some(key), []) => Ok(Target::Entity(set, key)),
            (Some(key), [name]) => Ok(Target::Property {
                set,
                key,
                column: property(name)?,
                raw: false,
            }),
            (Some(key), [name, "$value"]) => Ok(Target::Property {
                set,
                key,
                column: property(name)?,
                raw: true,
            }),
            (None, [next, ..]) if set.column(next).is_some() => Err(FeedError::new(
                StatusCode::BAD_REQUEST,
                "malformed_path",
                format!(
                    "`{path}`: a property belongs to one entity; address it by key, e.g. {}(1)/{next}",
                    set.name
                ),
            )),
            _ => Err(FeedError::not_found(format!("the feed has no resource at `{path}`"))),
        }
    }
}

/// The key in `Set(42)` or `Set(Id=42)`; `rest` is what follows the `(`.
fn parse_key(set: &FeedSet, segment: &str, rest: &str) -> Result<i64, FeedError> {
    let key_property = &set.columns[0].property;
    let inside = rest.strip_suffix(')').map(str::trim);
    let value = inside.map(|inside| match inside.split_once('=') {
        Some((name, value)) if name.trim() == key_property => Some(value.trim()),
        Some(_) => None,
        None => Some(inside),
    });
    value
        .flatten()
        .and_then(|value| value.parse::<i64>().ok())
        .ok_or_else(|| {
            FeedError::new(
                StatusCode::BAD_REQUEST,
                "malformed_key",
                format!(
                    "`{segment}`: the key must be a whole number, e.g. {0}(42) or {0}({key_property}=42)",
                    set.name
                ),
            )
        })
}

/// Everything below the service root: `$metadata`, sets, `$count`, entities and their properties.
async fn resource(
    State(state): State<AppState>,
    external: ExternalBase,
    headers: HeaderMap,
    uri: Uri,
    Path((feed_name, path)): Path<(String, String)>,
) -> Result<Response, FeedError> {
    let administration = authenticate(&state, &headers, &feed_name).await?;
    let target = Target::parse(&path)?;
    if let Target::Metadata = target {
        return Ok(metadata(&headers));
    }
    let raw_query = uri.query().unwrap_or("");
    let (options_query, format) = negotiate::take_format(raw_query)?;
    let options = parse_query(&options_query)?;
    let snapshot = Snapshot::current(&state.store, administration).await?;
    let request = Request {
        headers: &headers,
        root: root_url(&external, &feed_name),
        snapshot,
        raw_query,
    };
    match target {
        Target::Metadata => unreachable!("answered above"),
        Target::Count(set) => request.count(set, &options).await,
        Target::Property { set, key, column, raw } if raw => request.raw_value(set, key, column).await,
        Target::Property { set, key, column, .. } => {
            let format = negotiate::json_format(&headers, format.as_deref())?;
            request.property(set, key, column, &format).await
        }
        Target::Entity(set, key) => {
            let format = negotiate::json_format(&headers, format.as_deref())?;
            request.entity(set, &options, key, &format).await
        }
        Target::Collection(set) => {
            let format = negotiate::json_format(&headers, format.as_deref())?;
            request.collection(set, &options, &format).await
        }
    }
}

/// `$metadata`: CSDL XML whatever `Accept` prefers (Power BI needs that), with an ETag of its own.
fn metadata(headers: &HeaderMap) -> Response {
    static TAG: OnceLock<String> = OnceLock::new();
    let tag = TAG.get_or_init(|| etag(0, &["$metadata", metadata_document()]));
    if let Some(response) = not_modified(headers, tag, PLAIN_VARY) {
        return response;
    }
    let mut response = metadata_document().into_response();
    let answer_headers = response.headers_mut();
    answer_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml;charset=utf-8"),
    );
    answer_headers.insert("odata-version", HeaderValue::from_static("4.0"));
    with_etag(response, tag, PLAIN_VARY)
}

/// A weak entity tag over the sync read and every input that shapes the body.
fn etag(sync: i64, inputs: &[&str]) -> String {
    let mut hasher = sha2::Sha256::new();
    for input in inputs {
        hasher.update(input.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let mut tag = format!("W/\"s{sync}-");
    for byte in &digest[..8] {
        let _ = write!(tag, "{byte:02x}");
    }
    tag.push('"');
    tag
}

fn not_modified(headers: &HeaderMap, tag: &str, vary: &'static str) -> Option<Response> {
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|candidate| {
            let candidate = candidate.trim();
            // Weak comparison (RFC 9110 §13.1.2): `W/` does not matter.
            candidate == "*"
                || candidate.strip_prefix("W/").unwrap_or(candidate) == tag.strip_prefix("W/").unwrap_or(tag)
        });
    matches.then(|| {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response
            .headers_mut()
            .insert("odata-version", HeaderValue::from_static("4.0"));
        with_etag(response, tag, vary)
    })
}

fn with_etag(mut response: Response, tag: &str, vary: &'static str) -> Response {
    if let Ok(value) = HeaderValue::from_str(tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static(vary));
    response
}

/// The page size for the client's preference (`Prefer: odata.maxpagesize`).
fn page_size(headers: &HeaderMap) -> PageSize {
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
    PageSize::preferring(preferred)
}

/// One feed request after authentication, with what its answers are built from.
struct Request<'a> {
    headers: &'a HeaderMap,
    /// `<external base>/odata/v4/<feed>/`
    root: String,
    /// The administration's current sync, which every read starts from.
    snapshot: Snapshot,
    raw_query: &'a str,
}

impl Request<'_> {
    fn context_url(&self, set: &FeedSet, columns: &[&FeedColumn], options: &QueryOptions, entity: bool) -> String {
        let mut url = format!("{}$metadata#{}", self.root, set.name);
        if options.select.is_some() {
            let names: Vec<&str> = columns.iter().map(|c| c.property.as_str()).collect();
            let _ = write!(url, "({})", names.join(","));
        }
        if entity {
            url.push_str("/$entity");
        }
        url
    }

    async fn entity(
        &self,
        set: &'static FeedSet,
        options: &QueryOptions,
        key: i64,
        format: &JsonFormat,
    ) -> Result<Response, FeedError> {
        let planned = self.snapshot.plan(set, options)?;
        let tag = etag(
            self.snapshot.sync(),
            &[&format!("{}({key})", set.name), self.raw_query, &format!("{format:?}")],
        );
        if let Some(response) = not_modified(self.headers, &tag, DATA_VARY) {
            return Ok(response);
        }
        let row = planned.entity(key).await?;
        let mut body = String::new();
        open_object(&mut body, format, || {
            self.context_url(set, planned.columns(), options, true)
        });
        let mut entity = String::new();
        write_row(&mut entity, planned.columns(), &row, format.ieee754);
        body.push_str(&entity[1..]);
        Ok(with_etag(json_answer(StatusCode::OK, body, format), &tag, DATA_VARY))
    }

    /// `Set(key)/Property`: `{"@odata.context":…,"value":…}`; a null value has no representation
    /// and answers 204 (OData JSON Format §11).
    async fn property(
        &self,
        set: &'static FeedSet,
        key: i64,
        column: &'static FeedColumn,
        format: &JsonFormat,
    ) -> Result<Response, FeedError> {
        let path = format!("{}({key})/{}", set.name, column.property);
        let tag = etag(self.snapshot.sync(), &[&path, self.raw_query, &format!("{format:?}")]);
        if let Some(response) = not_modified(self.headers, &tag, DATA_VARY) {
            return Ok(response);
        }
        let value = self.snapshot.property(set, key, column).await?;
        if matches!(value, Value::Null) {
            return Ok(with_etag(no_content(), &tag, DATA_VARY));
        }
        let mut body = String::new();
        open_object(&mut body, format, || format!("{}$metadata#{path}", self.root));
        body.push_str("\"value\":");
        write_property(&mut body, column, &value, format.ieee754);
        body.push('}');
        Ok(with_etag(json_answer(StatusCode::OK, body, format), &tag, DATA_VARY))
    }

    /// `Set(key)/Property/$value`: the raw value as text; null answers 204 (OData Protocol
    /// §11.2.4.1.1).
    async fn raw_value(
        &self,
        set: &'static FeedSet,
        key: i64,
        column: &'static FeedColumn,
    ) -> Result<Response, FeedError> {
        let tag = etag(
            self.snapshot.sync(),
            &[
                &format!("{}({key})/{}/$value", set.name, column.property),
                self.raw_query,
            ],
        );
        if let Some(response) = not_modified(self.headers, &tag, PLAIN_VARY) {
            return Ok(response);
        }
        let text = match self.snapshot.property(set, key, column).await? {
            Value::Null => return Ok(with_etag(no_content(), &tag, PLAIN_VARY)),
            Value::Text(text) => text,
            value => {
                let mut json = String::new();
                write_value(&mut json, column, &value);
                json.trim_matches('"').to_string()
            }
        };
        Ok(with_etag(text_answer(text), &tag, PLAIN_VARY))
    }

    async fn collection(
        &self,
        set: &'static FeedSet,
        options: &QueryOptions,
        format: &JsonFormat,
    ) -> Result<Response, FeedError> {
        let page_size = page_size(self.headers);
        let listing = self.snapshot.listing(set, options, page_size)?;
        let tag = etag(
            listing.sync(),
            &[
                set.name,
                self.raw_query,
                &page_size.rows.to_string(),
                &format!("{format:?}"),
            ],
        );
        if let Some(response) = not_modified(self.headers, &tag, DATA_VARY) {
            return Ok(response);
        }
        let mut head = String::with_capacity(256);
        open_object(&mut head, format, || {
            self.context_url(set, listing.columns(), options, false)
        });
        if options.count {
            let count = listing.count().await?;
            if format.ieee754 {
                let _ = write!(head, "\"@odata.count\":\"{count}\",");
            } else {
                let _ = write!(head, "\"@odata.count\":{count},");
            }
        }
        head.push_str("\"value\":[");
        let writer = PageWriter {
            columns: listing.columns().to_vec(),
            ieee754: format.ieee754,
            next_link_base: format!("{}{}?", self.root, set.name),
            raw_query: self.raw_query.to_string(),
            head,
        };
        let body = writer.start(listing.rows()).await?;
        let mut response = with_etag(json_answer(StatusCode::OK, body, format), &tag, DATA_VARY);
        if let Some(applied) = page_size.applied
            && let Ok(value) = HeaderValue::from_str(&format!("odata.maxpagesize={applied}"))
        {
            response.headers_mut().insert("preference-applied", value);
        }
        Ok(response)
    }

    /// `Set/$count`: the number of entities (after `$filter`) as plain text.
    async fn count(&self, set: &'static FeedSet, options: &QueryOptions) -> Result<Response, FeedError> {
        let planned = self.snapshot.plan(set, options)?;
        let tag = etag(self.snapshot.sync(), &[&format!("{}/$count", set.name), self.raw_query]);
        if let Some(response) = not_modified(self.headers, &tag, PLAIN_VARY) {
            return Ok(response);
        }
        let count = planned.count().await?;
        Ok(with_etag(text_answer(count.to_string()), &tag, PLAIN_VARY))
    }
}

fn no_content() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert("odata-version", HeaderValue::from_static("4.0"));
    response
}

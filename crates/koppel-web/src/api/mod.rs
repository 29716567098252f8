//! The REST API under `/api/v1`: one table of endpoints that builds both the router and the OpenAPI
//! document, so the document cannot list a route that does not exist or miss one that does.

pub mod accountview;
pub mod body;
pub mod datasync;
pub mod path;
mod platform;
mod records;
pub mod runs;
pub mod schema;
mod settingsync;

use crate::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, StatusCode, header};
use axum::routing::MethodRouter;
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};

/// How an endpoint is documented.
pub struct Operation {
    pub method: Method,
    /// Path in OpenAPI (and axum) template syntax.
    pub path: String,
    pub id: String,
    pub summary: String,
    pub tag: &'static str,
    /// Whether the caller must be authenticated.
    pub authenticated: bool,
    pub parameters: Vec<Json>,
    pub request: Option<Json>,
    pub response_status: u16,
    pub response: Option<Json>,
    /// The media type of the success answer.
    pub response_media_type: &'static str,
    /// Other success answers: status, description, JSON schema.
    pub other_responses: Vec<(u16, &'static str, Json)>,
}

/// One endpoint: its documentation and its handler.
pub struct Endpoint {
    pub operation: Operation,
    pub handler: MethodRouter<AppState>,
}

impl Operation {
    pub fn new(
        method: Method,
        path: impl Into<String>,
        id: impl Into<String>,
        summary: impl Into<String>,
    ) -> Operation {
        Operation {
            method,
            path: path.into(),
            id: id.into(),
            summary: summary.into(),
            tag: "platform",
            authenticated: true,
            parameters: Vec::new(),
            request: None,
            response_status: 200,
            response: None,
            response_media_type: "application/json",
            other_responses: Vec::new(),
        }
    }

    pub fn tag(mut self, tag: &'static str) -> Self {
        self.tag = tag;
        self
    }
    pub fn public(mut self) -> Self {
        self.authenticated = false;
        self
    }
    pub fn request(mut self, schema: Json) -> Self {
        self.request = Some(schema);
        self
    }
    pub fn response(mut self, status: u16, schema: Option<Json>) -> Self {
        self.response_status = status;
        self.response = schema;
        self
    }
    /// Another success answer besides the main one (200 "joined" next to 201/202 "started").
    pub fn also(mut self, status: u16, description: &'static str, schema: Json) -> Self {
        self.other_responses.push((status, description, schema));
        self
    }
    /// A `text/event-stream` answer: a stream of Server-Sent Events (text, not one JSON document),
    /// each event's `data` line holding a JSON value of `event_schema`.
    pub fn event_stream(mut self, description: &str, event_schema: Json) -> Self {
        self.response_status = 200;
        // One event of the stream (the shape OpenAPI 3.2 gives SSE items): its name and its data
        // line, which holds JSON of `event_schema`.
        self.response = Some(json!({
            "type": "object",
            "description": format!("One Server-Sent Event of the text/event-stream. {description}"),
            "required": ["event"],
            "properties": {
                "event": {"type": "string", "enum": ["progress", "end", "gone"]},
                "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": event_schema},
                "id": {"type": "string"},
                "retry": {"type": "integer", "minimum": 0},
            },
        }));
        self.response_media_type = "text/event-stream";
        self
    }
    pub fn query(mut self, name: &str, description: &str, schema: Json) -> Self {
        self.parameters.push(
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema}),
        );
        self
    }
    pub fn handler(self, handler: MethodRouter<AppState>) -> Endpoint {
        Endpoint {
            operation: self,
            handler,
        }
    }
}

/// Every endpoint of the API.
pub fn endpoints() -> Vec<Endpoint> {
    let mut endpoints = platform::endpoints();
    endpoints.extend(records::endpoints());
    endpoints.extend(runs::endpoints());
    endpoints.extend(datasync::endpoints());
    endpoints.extend(settingsync::endpoints());
    endpoints.extend(accountview::endpoints());
    endpoints
}

/// The API router.
pub fn router() -> Router<AppState> {
    let endpoints = endpoints();
    let mut router = Router::new();
    for endpoint in endpoints {
        router = router.route(&endpoint.operation.path, endpoint.handler);
    }
    router
        .route("/api/v1/openapi.json", axum::routing::get(openapi_json))
        // An unknown address under /api answers the envelope's "not_found" from the app's one
        // fallback (`pages::not_found`), which also serves browsers their not-found page.
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not accept that method",
            )
        })
}

async fn openapi_json() -> axum::Json<Json> {
    axum::Json(openapi())
}

/// The OpenAPI 3.1 document of the API.
pub fn openapi() -> Json {
    let mut paths = serde_json::Map::new();
    for endpoint in endpoints() {
        let operation = endpoint.operation;
        let mut parameters: Vec<Json> = path_parameters(&operation.path);
        parameters.extend(operation.parameters.iter().cloned());
        let mut document = json!({
            "operationId": operation.id,
            "summary": operation.summary,
            "tags": [operation.tag],
            "responses": responses(&operation),
        });
        if !parameters.is_empty() {
            document["parameters"] = Json::Array(parameters);
        }
        if let Some(request) = &operation.request {
            document["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": request}}});
        }
        if !operation.authenticated {
            document["security"] = json!([]);
        }
        let entry = paths.entry(operation.path).or_insert_with(|| json!({}));
        entry[operation.method.as_str().to_lowercase()] = document;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Koppel API",
            "version": "1",
            "description": "Daily data, settings and administration of a Koppel environment. Money is a decimal string with two decimals, quantities a decimal string with up to three. Lists use cursor pagination: pass next_cursor back as cursor.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API token created under /api/v1/me/tokens"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE},
            },
            "schemas": schema::components(),
        },
    })
}

fn path_parameters(path: &str) -> Vec<Json> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let schema = if name == "power_up" {
                json!({"type": "string"})
            } else {
                json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX})
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}

fn responses(operation: &Operation) -> Json {
    let error = json!({"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let mut responses = serde_json::Map::new();
    let success = match &operation.response {
        Some(schema) => {
            json!({"description": "Success", "content": {operation.response_media_type: {"schema": schema}}})
        }
        None => json!({"description": "Success"}),
    };
    responses.insert(operation.response_status.to_string(), success);
    for (status, description, schema) in &operation.other_responses {
        responses.insert(
            status.to_string(),
            json!({"description": description, "content": {"application/json": {"schema": schema}}}),
        );
    }
    responses.insert("4XX".into(), error.clone());
    if operation.authenticated {
        responses.insert("401".into(), error);
    }
    Json::Object(responses)
}

/// A moment as the API writes it: RFC 3339, UTC, microseconds.
pub(crate) fn time(moment: chrono::DateTime<chrono::Utc>) -> String {
    moment.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A JSON request body: `application/json`, within the size limit, well-formed.
pub struct JsonBody(pub Json);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the request body as JSON with 'Content-Type: application/json'",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the request body is too large",
                )
            } else {
                ApiError::bad_request("unreadable_body", "the request body could not be read")
            }
        })?;
        let json: Json = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request("malformed_json", format!("the request body is not valid JSON: {e}")))?;
        if let Some(field) = nul_at(&json, "") {
            return Err(ApiError::invalid(vec![koppel_domain::record::FieldError::new(
                field.clone(),
                "invalid_character",
                format!("{field} may not contain the NUL character (U+0000)"),
            )]));
        }
        Ok(JsonBody(json))
    }
}

/// The path of the first string (or key) in a request body that holds a NUL character. No text
/// field may hold one: PostgreSQL cannot store it and SQLite would, so every endpoint refuses it
/// here alike, before any handler binds it. Other control characters are refused per field.
fn nul_at(json: &Json, path: &str) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match json {
        Json::String(text) => text.contains('\0').then(|| path.to_string()),
        Json::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| nul_at(item, &format!("{path}[{index}]"))),
        Json::Object(map) => map.iter().find_map(|(key, value)| {
            if key.contains('\0') {
                Some(join(&key.replace('\0', "\\u0000")))
            } else {
                nul_at(value, &join(key))
            }
        }),
        Json::Null | Json::Bool(_) | Json::Number(_) => None,
    }
}

/// An optional JSON body: absent when the request has no body at all.
impl<S: Send + Sync> axum::extract::OptionalFromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let headers = request.headers();
        let has_body = headers.contains_key(header::CONTENT_TYPE)
            || headers
                .get(header::CONTENT_LENGTH)
                .is_some_and(|length| length.as_bytes() != b"0")
            || headers.contains_key(header::TRANSFER_ENCODING);
        if !has_body {
            return Ok(None);
        }
        <JsonBody as FromRequest<S>>::from_request(request, state)
            .await
            .map(Some)
    }
}

impl JsonBody {
    /// Reads the body as a typed request; unknown fields and wrong types are validation errors.
    pub fn parse<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        serde_json::from_value(self.0).map_err(|e| {
            let message = e.to_string();
            let field = message
                .split('`')
                .nth(1)
                .filter(|_| message.starts_with("unknown field") || message.starts_with("missing field"))
                .unwrap_or("")
                .to_string();
            let code = if message.starts_with("unknown field") {
                "unknown_field"
            } else {
                "invalid"
            };
            ApiError::invalid(vec![koppel_domain::record::FieldError::new(field, code, message)])
        })
    }
}

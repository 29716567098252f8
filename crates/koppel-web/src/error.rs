//! The one place where failures become HTTP answers: a stable machine code, a human message, and
//! for validation the fields at fault. 5xx bodies are opaque; the cause is logged once, here.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use koppel_domain::licence::LicenceError;
use koppel_domain::record::FieldError;
use koppel_store::StoreError;
use serde::Serialize;

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldBody<'a>>,
}

/// One field at fault, as the envelope shows it.
#[derive(Serialize)]
struct FieldBody<'a> {
    field: &'a str,
    code: &'a str,
    message: &'a str,
}

impl<'a> From<&'a FieldError> for FieldBody<'a> {
    fn from(error: &'a FieldError) -> FieldBody<'a> {
        FieldBody {
            field: &error.field,
            code: error.code,
            message: &error.message,
        }
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "log in or send an API token as 'Authorization: Bearer <token>'",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn invalid(fields: Vec<FieldError>) -> ApiError {
        let message = match fields.as_slice() {
            [only] => only.message.clone(),
            _ => format!("{} fields are not valid", fields.len()),
        };
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            message,
            fields,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A failure the client cannot fix. The cause is logged here and never sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "something went wrong on our side; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Envelope {
            error: Body {
                code: self.code,
                message: &self.message,
                fields: self.fields.iter().map(FieldBody::from).collect(),
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// What a store failure means, whoever answers it: the API ([`ApiError`]), the pages
/// (`pages::PageError`) and the feed (`odata::FeedError`) each render this one reading of a
/// [`StoreError`] in their own envelope, and log the original error where they answer 5xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFailure<'a> {
    /// What was asked for does not exist (or is not the caller's to see).
    NotFound,
    /// The request conflicts with what is stored: a stable code and a message for the caller.
    Conflict { code: &'static str, message: &'a str },
    /// Fields of the request are not valid.
    Invalid(&'a [FieldError]),
    /// A licence does not allow it.
    Licence(LicenceError),
    /// The database is busy; the same request may succeed in a moment.
    Unavailable,
    /// The database refused a statement for its size or nesting: the request's fault (a feed
    /// query with thousands of terms, say).
    TooComplex,
    /// Something failed on our side.
    Internal,
}

impl<'a> StoreFailure<'a> {
    pub fn of(error: &'a StoreError) -> StoreFailure<'a> {
        match error {
            StoreError::NotFound => StoreFailure::NotFound,
            StoreError::Conflict { code, message } => StoreFailure::Conflict {
                code,
                message: message.as_str(),
            },
            StoreError::Invalid(fields) => StoreFailure::Invalid(fields.as_slice()),
            StoreError::Licence(licence) => StoreFailure::Licence(*licence),
            error if error.is_transient() => StoreFailure::Unavailable,
            error if error.is_statement_too_complex() => StoreFailure::TooComplex,
            _ => StoreFailure::Internal,
        }
    }
}

/// The code and message of [`StoreFailure::Unavailable`], in the API's and the feed's envelopes.
pub(crate) const BUSY: (&str, &str) = ("busy", "the database is busy; try again in a moment");

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        ApiError::from_store(error, "record")
    }
}

impl ApiError {
    /// A store failure, where "not found" says that `missing` (an active API token, a run) was
    /// not found.
    pub fn from_store(error: StoreError, missing: &str) -> ApiError {
        match StoreFailure::of(&error) {
            StoreFailure::NotFound => ApiError::not_found(missing),
            StoreFailure::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            StoreFailure::Invalid(fields) => ApiError::invalid(fields.to_vec()),
            StoreFailure::Licence(licence) => licence.into(),
            StoreFailure::Unavailable => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, BUSY.0, BUSY.1),
            // The API has no answer of its own for a statement that is too complex (its
            // queries are bounded); like any other failure it is ours.
            StoreFailure::TooComplex | StoreFailure::Internal => ApiError::internal(&error),
        }
    }
}

impl From<LicenceError> for ApiError {
    fn from(error: LicenceError) -> ApiError {
        let code = match error {
            LicenceError::CapacityReached { .. } => "capacity_reached",
            LicenceError::Inactive(_) | LicenceError::TrialEnded { .. } => "licence_inactive",
        };
        ApiError::new(StatusCode::FORBIDDEN, code, error.to_string())
    }
}

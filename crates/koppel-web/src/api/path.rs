//! The typed paths of the API: each route's `{…}` segments as a struct, read once by [`ApiPath`].
//!
//! An id in a path is a whole number from 1 to `i64::MAX`; anything else is answered with
//! `400 invalid_id` naming the segment ("administration must be a positive whole number"), before
//! the handler runs. A path that cannot be read at all (not UTF-8 once percent-decoded) is
//! `400 invalid_path`. The OpenAPI document describes the same segments (`api::path_parameters`).

use crate::error::ApiError;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use koppel_domain::{AdministrationId, RecordId, UserId};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use std::fmt;

/// The segments of a request's path as `T`, or the API's error answer.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(error)) => match error.into_kind() {
                axum::extract::path::ErrorKind::DeserializeError { key, .. }
                | axum::extract::path::ErrorKind::ParseErrorAtKey { key, .. } => Err(ApiError::bad_request(
                    "invalid_id",
                    format!("{key} must be a positive whole number"),
                )),
                _ => Err(unreadable()),
            },
            Err(_) => Err(unreadable()),
        }
    }
}

fn unreadable() -> ApiError {
    ApiError::bad_request("invalid_path", "the path could not be read")
}

/// Reads a path segment as a positive id (1 to `i64::MAX`).
fn positive<'de, D: Deserializer<'de>, T: From<i64>>(deserializer: D) -> Result<T, D::Error> {
    deserializer
        .deserialize_str(WholeNumber { sign: Sign::Positive })
        .map(T::from)
}

/// Reads a path segment as any whole number. Only the feed token of `DELETE …/datasync/tokens/{token}`
/// is read this way: a token id of 0 or below has always been answered "not found" there, not
/// "invalid".
fn whole<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    deserializer.deserialize_str(WholeNumber { sign: Sign::Any })
}

/// Which whole numbers a segment accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sign {
    Positive,
    Any,
}

struct WholeNumber {
    sign: Sign,
}

impl Visitor<'_> for WholeNumber {
    type Value = i64;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a positive whole number")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<i64, E> {
        text.parse::<i64>()
            .ok()
            .filter(|id| self.sign == Sign::Any || *id > 0)
            .ok_or_else(|| E::custom("not a positive whole number"))
    }
}

/// `…/administrations/{administration}` and every path below it that names nothing else.
#[derive(Debug, Deserialize)]
pub struct AdministrationPath {
    #[serde(deserialize_with = "positive")]
    pub administration: AdministrationId,
}

/// `…/administrations/{administration}/<resource>/{id}`: one record.
#[derive(Debug, Deserialize)]
pub struct RecordPath {
    #[serde(deserialize_with = "positive")]
    pub administration: AdministrationId,
    #[serde(deserialize_with = "positive")]
    pub id: RecordId,
}

/// `…/administrations/{administration}/runs/{id}`: one run.
#[derive(Debug, Deserialize)]
pub struct RunPath {
    #[serde(deserialize_with = "positive")]
    pub administration: AdministrationId,
    #[serde(deserialize_with = "positive")]
    pub id: koppel_jobs::RunId,
}

/// `/api/v1/me/tokens/{token}`: one of the caller's API tokens.
#[derive(Debug, Deserialize)]
pub struct ApiTokenPath {
    #[serde(deserialize_with = "positive")]
    pub token: i64,
}

/// `…/administrations/{administration}/datasync/tokens/{token}`: one feed token.
#[derive(Debug, Deserialize)]
pub struct FeedTokenPath {
    #[serde(deserialize_with = "positive")]
    pub administration: AdministrationId,
    #[serde(deserialize_with = "whole")]
    pub token: i64,
}

/// `/api/v1/users/{user}/administrations/{administration}/rights`.
#[derive(Debug, Deserialize)]
pub struct RightsPath {
    #[serde(deserialize_with = "positive")]
    pub user: UserId,
    #[serde(deserialize_with = "positive")]
    pub administration: AdministrationId,
}

/// `/api/v1/licences/{power_up}`: the power-up's name, checked by the handler (an unknown one is
/// "not found", which names the power-ups there are).
#[derive(Debug, Deserialize)]
pub struct LicencePath {
    pub power_up: String,
}

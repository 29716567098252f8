//! The typed paths of the back office: each page's `{…}` segments as a struct, read once by
//! [`PagePath`].
//!
//! A segment that is not a whole number names nothing, so the visitor sees the not-found page in
//! their language (the same page as for an administration they have no access to), never a
//! parse error. Whether a number names something the visitor may see is the page's question.

use super::PageError;
use super::i18n::Lang;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use koppel_domain::{AdministrationId, UserId};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The segments of a page's path as `T`, or the not-found page.
///
/// Take it after the [`Visitor`](super::Visitor): the visitor's language, which the not-found page
/// is shown in, is known from then on (an anonymous visitor is sent to log in first anyway).
#[derive(Debug)]
pub struct PagePath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PagePath<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PagePath(value))
            .map_err(|_| PageError::NotFound(lang))
    }
}

/// `/a/{administration}/…`: a page about one administration.
#[derive(Debug, Deserialize)]
pub struct AdministrationPage {
    pub administration: AdministrationId,
}

/// `/a/{administration}/settings/administrations/{target}/delete`: the sub to delete.
#[derive(Debug, Deserialize)]
pub struct TargetPage {
    pub administration: AdministrationId,
    pub target: AdministrationId,
}

/// `/a/{administration}/settings/users/{user}`: one user.
#[derive(Debug, Deserialize)]
pub struct UserPage {
    pub administration: AdministrationId,
    pub user: UserId,
}

/// `/a/{administration}/settings/licences/{power_up}`: the power-up's name, checked by the page
/// (after its gates, as an unknown one is simply "not found").
#[derive(Debug, Deserialize)]
pub struct LicencePage {
    pub administration: AdministrationId,
    pub power_up: String,
}

/// `/a/{administration}/settings/datasync/tokens/{token}/revoke`: one feed token.
#[derive(Debug, Deserialize)]
pub struct FeedTokenPage {
    pub administration: AdministrationId,
    pub token: i64,
}

/// `/a/{administration}/runs/{run}`: one run.
#[derive(Debug, Deserialize)]
pub struct RunPage {
    pub administration: AdministrationId,
    pub run: i64,
}

//! What a browser sees when an address is not a page: an HTML page in the visitor's language for an
//! unknown address (404), a method an address does not take (405) and a failure on our side (500),
//! each with a way back; a GET of an address that only takes a form (a bookmark, a reload after the
//! form) leads to the page that form is on. The REST API (`/api/…`) and the feed (`/odata/…`) keep
//! answering in their JSON envelopes.

use super::context::{ErrorPage, LANGUAGE_COOKIE, redirect};
use super::i18n::Lang;
use crate::AppState;
use crate::auth::{SESSION_COOKIE, cookie};
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The pages a browser can open, as route patterns where `{}` stands for any one segment. A GET of
/// an address that only takes a form leads to the nearest of these above it.
const PAGES: &[&str] = &[
    "/",
    "/login",
    "/a/{}",
    "/a/{}/settings",
    "/a/{}/settings/integrations",
    "/a/{}/settings/integrations/accountview",
    "/a/{}/settings/datasync",
    "/a/{}/settings/administrations",
    "/a/{}/settings/administrations/sync",
    "/a/{}/settings/users",
    "/a/{}/settings/users/{}",
    "/a/{}/settings/licences",
    "/a/{}/runs",
    "/a/{}/runs/{}",
];

fn is_page(segments: &[&str]) -> bool {
    PAGES.iter().any(|pattern| {
        let pattern: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
        pattern.len() == segments.len()
            && pattern
                .iter()
                .zip(segments)
                .all(|(expected, segment)| *expected == "{}" || expected == segment)
    })
}

/// The nearest page above `path`: `/a/3/settings/datasync/tokens` → `/a/3/settings/datasync`,
/// `/logout` → `/`.
pub fn page_above(path: &str) -> String {
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    while segments.pop().is_some() {
        if is_page(&segments) {
            return format!("/{}", segments.join("/"));
        }
    }
    "/".to_string()
}

/// The language of an error page: the logged-in visitor's, else the one chosen on the login page
/// (its cookie), else Dutch.
pub async fn visitor_language(state: &AppState, headers: &HeaderMap) -> Lang {
    if let Some(secret) = cookie(headers, SESSION_COOKIE)
        && let Ok(Some(user)) = state.store.session_user(secret).await
        && let Ok(user) = state.store.user(user).await
    {
        return Lang::parse(&user.language);
    }
    cookie(headers, LANGUAGE_COOKIE).map(Lang::parse).unwrap_or_default()
}

/// Whether an address belongs to the REST API or the feed, which answer in JSON.
fn is_machine_address(path: &str) -> bool {
    ["/api", "/odata"]
        .iter()
        .any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")))
}

/// Whether a client asks for JSON and not for HTML (a script, not a browser).
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    accept.contains("json") && !accept.contains("text/html")
}

/// The answer for an address nothing is served at.
pub async fn not_found(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    if is_machine_address(uri.path()) || wants_json(&headers) {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint; see /api/v1/openapi.json",
        )
        .into_response();
    }
    ErrorPage::UnknownAddress.render(visitor_language(&state, &headers).await)
}

/// The answer for a method a page address does not take: a GET (a bookmark of a form's address, a
/// reload after sending a form) leads to the page above it; anything else is a 405 page.
pub async fn method_not_allowed(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method == Method::GET || method == Method::HEAD {
        return redirect(&page_above(uri.path()));
    }
    ErrorPage::MethodNotAllowed.render(visitor_language(&state, &headers).await)
}

/// Renders an error page again in the visitor's language when the page that failed could not know
/// it (a store failure before the visitor was read, a failure on our side).
pub async fn localize_error_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Only the cookies say who is visiting; they are kept aside, as the request goes on.
    let cookies = request.headers().get(header::COOKIE).cloned();
    let response = next.run(request).await;
    match response.extensions().get::<ErrorPage>().copied() {
        Some(page) => {
            let mut headers = HeaderMap::new();
            if let Some(cookies) = cookies {
                headers.insert(header::COOKIE, cookies);
            }
            page.render(visitor_language(&state, &headers).await)
        }
        None => response,
    }
}

#[cfg(test)]
mod tests {
    use super::page_above;

    #[test]
    fn a_form_address_leads_to_the_page_above_it() {
        assert_eq!(page_above("/a/3/settings/datasync/tokens"), "/a/3/settings/datasync");
        assert_eq!(
            page_above("/a/3/settings/datasync/tokens/9/revoke"),
            "/a/3/settings/datasync"
        );
        assert_eq!(page_above("/a/3/settings/licences/power_bi"), "/a/3/settings/licences");
        assert_eq!(
            page_above("/a/3/settings/integrations/accountview/sign-in"),
            "/a/3/settings/integrations/accountview"
        );
        assert_eq!(page_above("/a/3/settings/users/7/rights"), "/a/3/settings/users/7");
        assert_eq!(page_above("/logout"), "/");
        assert_eq!(page_above("/language"), "/");
    }
}

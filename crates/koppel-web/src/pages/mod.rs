//! The back office: server-rendered pages in Dutch and English for office administrators.
//!
//! Pages live under `/a/{administration}/…`, so the administration a page is about is part of its
//! address and switching administration is a redirect to the same page elsewhere. Every form is a
//! POST with a CSRF token that answers with a redirect and a flash message (POST-redirect-GET).
//! A page the visitor may not use renders an explanation of why (a "gate") with status 403.

mod accountview;
mod administrations;
mod confirm;
mod context;
mod datasync;
mod errors;
mod flash;
pub mod i18n;
pub(crate) mod icons;
mod licences;
mod login;
mod path;
mod runs;
mod settings;
mod settingsync;
mod users;

use crate::AppState;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
pub(crate) use context::{Context, FormData, PageError, Visitor, redirect};
pub(crate) use errors::{localize_error_pages, not_found};
pub(crate) use flash::{Flash, redirect_with_flash, redirect_with_flash_about};

/// The back office's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(login::home))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/language", post(login::set_language))
        .route("/switch", get(settings::switch))
        .route("/a/{administration}", get(settings::enter))
        .route("/a/{administration}/settings", get(settings::overview))
        .route("/a/{administration}/settings/integrations", get(settings::integrations))
        .route(
            "/a/{administration}/settings/integrations/accountview",
            get(accountview::page),
        )
        .route(
            "/a/{administration}/settings/integrations/accountview/sign-in",
            post(accountview::sign_in),
        )
        .route(
            "/a/{administration}/settings/integrations/accountview/settings",
            post(accountview::save),
        )
        .route(
            "/a/{administration}/settings/integrations/accountview/import",
            post(accountview::import_now),
        )
        .route(
            "/a/{administration}/settings/integrations/accountview/export",
            post(accountview::export_now),
        )
        .route(
            "/a/{administration}/settings/integrations/accountview/disconnect",
            get(accountview::confirm_disconnect).post(accountview::disconnect),
        )
        // AccountView sends the browser back here; the sign-in's state names the administration.
        .route("/accountview/callback", get(accountview::callback))
        .route("/a/{administration}/settings/datasync", get(datasync::page))
        .route(
            "/a/{administration}/settings/datasync/autosync",
            post(datasync::save_autosync),
        )
        .route("/a/{administration}/settings/datasync/sync", post(datasync::sync_now))
        .route(
            "/a/{administration}/settings/datasync/tokens",
            post(datasync::create_token),
        )
        .route(
            "/a/{administration}/settings/datasync/full-resync",
            get(datasync::confirm_full_resync),
        )
        .route(
            "/a/{administration}/settings/datasync/tokens/{token}/revoke",
            get(datasync::confirm_revoke_token).post(datasync::revoke_token),
        )
        .route(
            "/a/{administration}/settings/administrations",
            get(administrations::list).post(administrations::create),
        )
        .route(
            "/a/{administration}/settings/administrations/sync",
            get(settingsync::select).post(settingsync::start),
        )
        .route(
            "/a/{administration}/settings/administrations/sync/preview",
            get(settingsync::show_preview),
        )
        .route(
            "/a/{administration}/settings/administrations/{target}/delete",
            get(administrations::confirm_delete).post(administrations::delete),
        )
        .route(
            "/a/{administration}/settings/users",
            get(users::list).post(users::create),
        )
        .route(
            "/a/{administration}/settings/users/{user}",
            get(users::edit).post(users::save),
        )
        .route("/a/{administration}/settings/licences", get(licences::list))
        .route(
            "/a/{administration}/settings/licences/{power_up}",
            post(licences::change),
        )
        .route(
            "/a/{administration}/settings/licences/{power_up}/deactivate",
            get(licences::confirm_deactivate),
        )
        .route("/a/{administration}/runs", get(runs::list))
        .route("/a/{administration}/runs/{run}", get(runs::detail))
        .route("/assets/koppel.css", get(stylesheet))
        .route("/assets/run-progress.js", get(run_progress_script))
        .route("/assets/checkboxes.js", get(checkboxes_script))
        .route("/assets/shell.js", get(shell_script))
        .route("/assets/accountview-progress.js", get(accountview_progress_script))
        .route("/assets/copy.js", get(copy_script))
        .route("/assets/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon_ico))
        // Set after every route above, which it applies to (the API and the feed have their own).
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(axum::middleware::from_fn(clear_shown_flash))
        .layer(axum::middleware::from_fn(security_headers))
}

/// The pages' Content-Security-Policy: everything from Koppel itself (the stylesheet and the two
/// scripts are files under `/assets`; no page has inline script, inline style or event-handler
/// attributes), never framed, forms only to Koppel (plus `form_action_extra`, the one origin the
/// AccountView page's "Log in" leads to), no `<base>` and no plugins.
pub(crate) fn content_security_policy(form_action_extra: Option<&str>) -> String {
    let extra = form_action_extra.map(|origin| format!(" {origin}")).unwrap_or_default();
    format!("default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'{extra}")
}

/// Every answer of the back office (pages, redirects, assets) says how it may be read: no content
/// sniffing, and the full address (with administration and record ids) never leaves the site in
/// a `Referer`.
async fn security_headers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// A flash message is shown once: a page that displayed it (any answer that is not a redirect)
/// expires its cookie, unless the answer sets a new one.
async fn clear_shown_flash(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let had_flash = crate::auth::cookie(request.headers(), context::FLASH_COOKIE).is_some();
    let mut response = next.run(request).await;
    let sets_flash = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(context::FLASH_COOKIE.as_bytes()));
    if had_flash && !sets_flash && !response.status().is_redirection() {
        response.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_static("koppel_flash=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
        );
    }
    response
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("../../assets/koppel.css"))
}

async fn run_progress_script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/run-progress.js"),
    )
}

async fn checkboxes_script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/checkboxes.js"),
    )
}

async fn shell_script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../../assets/shell.js"))
}

async fn copy_script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../../assets/copy.js"))
}

/// The favicon: Koppel's "K" as SVG (the layout's `<link rel="icon">`), and the same drawing as a
/// 32×32 icon at `/favicon.ico`, which browsers ask for on their own.
async fn favicon() -> Response {
    asset("image/svg+xml", include_str!("../../assets/favicon.svg"))
}

async fn favicon_ico() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/x-icon")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ],
        &include_bytes!("../../assets/favicon.ico")[..],
    )
        .into_response()
}

async fn accountview_progress_script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/accountview-progress.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        body,
    )
        .into_response()
}

/// Renders a template as an HTML answer that is never cached and never framed.
pub(crate) fn html(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    match body {
        Ok(body) => (
            status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_str(&content_security_policy(None))
                        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'")),
                ),
            ],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(error = %error, "a page could not be rendered");
            PageError::Internal.into_response()
        }
    }
}

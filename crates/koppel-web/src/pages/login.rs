//! Logging in and out, choosing the language, and the start page.

use super::context::{LANGUAGE_COOKIE, anonymous_language, csrf_token, message_page, safe_local_path, tokens_match};
use super::flash::{ShownFlash, read_flash};
use super::i18n::{Lang, Messages, fill};
use super::{Flash, FormData, PageError, Visitor, html, redirect, redirect_with_flash};
use crate::auth::{SESSION_COOKIE, cookie};
use crate::external::ExternalBase;
use crate::{AppState, WebConfig};
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// The anonymous CSRF cookie of the login and language forms (there is no session yet).
const LOGIN_CSRF_COOKIE: &str = "koppel_login_csrf";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    m: &'static Messages,
    lang: Lang,
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
    flash: Option<ShownFlash>,
}

/// `/`: the first administration the visitor may work in.
pub async fn home(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    let memberships = state.store.memberships(visitor.user.id).await?;
    match memberships.first() {
        Some(first) => Ok(redirect(&format!("/a/{}/settings", first.administration.id))),
        None => {
            let m = visitor.lang.messages();
            Ok(message_page(
                visitor.lang,
                StatusCode::FORBIDDEN,
                m.no_access_title,
                m.no_access_text,
            ))
        }
    }
}

fn login_page(
    config: &WebConfig,
    headers: &HeaderMap,
    lang: Lang,
    next: &str,
    email: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    // Keep the anonymous token stable while the cookie lives, so several tabs keep working.
    let token = cookie(headers, LOGIN_CSRF_COOKIE)
        .filter(|t| t.len() >= 32)
        .map(str::to_string)
        .unwrap_or_else(|| csrf_token(&format!("{:x}", rand_u128())));
    let page = LoginPage {
        m: lang.messages(),
        lang,
        csrf: token.clone(),
        next: next.to_string(),
        email: email.to_string(),
        error,
        flash: read_flash(headers, lang),
    };
    let mut response = html(status, page.render());
    let secure = if served_over_https(config, headers) {
        "; Secure"
    } else {
        ""
    };
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{LOGIN_CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400{secure}"
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Whether the visitor reaches Koppel over HTTPS: the configured public address says so, or the
/// TLS-terminating proxy in front does (`X-Forwarded-Proto` or `Forwarded: proto=https`). Marking a
/// cookie `Secure` only ever narrows where the browser sends it, so trusting the header is safe.
fn served_over_https(config: &WebConfig, headers: &HeaderMap) -> bool {
    let header_says_https = |name: &str, value_is_https: fn(&str) -> bool| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(value_is_https)
    };
    config.secure_cookies
        || header_says_https("x-forwarded-proto", |v| {
            v.split(',')
                .next()
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
        })
        || header_says_https("forwarded", |v| {
            v.split([';', ',']).any(|pair| {
                pair.trim().split_once('=').is_some_and(|(k, p)| {
                    k.trim().eq_ignore_ascii_case("proto") && p.trim().trim_matches('"').eq_ignore_ascii_case("https")
                })
            })
        })
}

fn rand_u128() -> u128 {
    use rand::Rng;
    rand::rng().random()
}

/// `GET /login`.
pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let lang = anonymous_language(&headers);
    let next = safe_local_path(query.get("next").map_or("/", String::as_str));
    login_page(&state.config, &headers, lang, &next, "", None, StatusCode::OK)
}

/// `POST /login`: a wrong password says so clearly; too many attempts wait.
pub async fn submit(
    State(state): State<AppState>,
    client: crate::auth::ClientAddress,
    external: ExternalBase,
    headers: HeaderMap,
    body: Result<Form<FormData>, FormRejection>,
) -> Response {
    let lang = anonymous_language(&headers);
    let m = lang.messages();
    let Ok(Form(data)) = body else {
        return login_page(
            &state.config,
            &headers,
            lang,
            "/",
            "",
            Some(m.form_unreadable.to_string()),
            StatusCode::BAD_REQUEST,
        );
    };
    let next = safe_local_path(data.get("next").unwrap_or("/"));
    let email = data.get("email").unwrap_or("").trim().to_string();
    let password = data.get("password").unwrap_or("");
    let token_ok = match (data.get("csrf"), cookie(&headers, LOGIN_CSRF_COOKIE)) {
        (Some(sent), Some(expected)) => tokens_match(sent, expected),
        _ => false,
    };
    if !token_ok || !super::context::same_origin(&headers, &external) {
        return login_page(
            &state.config,
            &headers,
            lang,
            &next,
            &email,
            Some(m.form_expired.to_string()),
            StatusCode::FORBIDDEN,
        );
    }
    if email.is_empty() || password.is_empty() {
        return login_page(
            &state.config,
            &headers,
            lang,
            &next,
            &email,
            Some(m.login_missing.to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match state.login_limiter.check(&state.store, &email, client.0).await {
        Ok(Ok(())) => {}
        Ok(Err(wait_seconds)) => {
            let minutes = wait_seconds.div_ceil(60).to_string();
            let mut page = login_page(
                &state.config,
                &headers,
                lang,
                &next,
                &email,
                Some(fill(m.login_locked, &[&minutes])),
                StatusCode::TOO_MANY_REQUESTS,
            );
            page.headers_mut().insert(header::RETRY_AFTER, wait_seconds.into());
            return page;
        }
        Err(error) => return PageError::from(error).into_response(),
    }
    let user = match state.store.authenticate_password(&email, password).await {
        Ok(user) => user,
        Err(error) => return PageError::from(error).into_response(),
    };
    let Some(user) = user else {
        if let Err(error) = state.login_limiter.failed(&state.store, &email, client.0).await {
            return PageError::from(error).into_response();
        }
        tracing::info!("a login failed");
        return login_page(
            &state.config,
            &headers,
            lang,
            &next,
            &email,
            Some(m.login_wrong.to_string()),
            StatusCode::UNAUTHORIZED,
        );
    };
    if let Err(error) = state.login_limiter.succeeded(&state.store, &email, client.0).await {
        return PageError::from(error).into_response();
    }
    let secret = match state.store.create_session(user.id, state.config.session_lifetime).await {
        Ok(secret) => secret,
        Err(error) => return PageError::from(error).into_response(),
    };
    let mut response = redirect(&next);
    if let Ok(value) = HeaderValue::from_str(&state.config.session_cookie(&secret)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<AppState>,
    visitor: Visitor,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    super::context::form(body, &visitor)?;
    state.store.delete_session(&visitor.session_secret).await?;
    let mut response = redirect_with_flash("/login", Flash::LoggedOut);
    if let Ok(value) = HeaderValue::from_str(&state.config.expired_session_cookie()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `POST /language`: remembered on the user (when logged in) and in a cookie (for the login page).
pub async fn set_language(
    State(state): State<AppState>,
    external: ExternalBase,
    headers: HeaderMap,
    body: Result<Form<FormData>, FormRejection>,
) -> Response {
    let Ok(Form(data)) = body else {
        return PageError::FormExpired(anonymous_language(&headers)).into_response();
    };
    let lang = Lang::parse(data.get("lang").unwrap_or("nl"));
    let back = safe_local_path(data.get("back").unwrap_or("/"));
    let session = cookie(&headers, SESSION_COOKIE).map(str::to_string);
    let sent = data.get("csrf").unwrap_or("");
    let user = match &session {
        Some(secret) => state.store.session_user(secret).await.ok().flatten(),
        None => None,
    };
    let token_ok = match (&session, user) {
        (Some(secret), Some(_)) => tokens_match(sent, &csrf_token(secret)),
        _ => cookie(&headers, LOGIN_CSRF_COOKIE).is_some_and(|expected| tokens_match(sent, expected)),
    };
    if !token_ok || !super::context::same_origin(&headers, &external) {
        return PageError::FormExpired(anonymous_language(&headers)).into_response();
    }
    if let Some(user) = user
        && let Err(error) = state.store.set_user_language(user, lang.code()).await
    {
        return PageError::from(error).into_response();
    }
    let mut response = redirect_with_flash(&back, Flash::LanguageChanged);
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{LANGUAGE_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
        lang.code()
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::super::context::safe_local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_local_path("/a/3/settings"), "/a/3/settings");
        assert_eq!(safe_local_path("//evil.example/"), "/");
        assert_eq!(safe_local_path("https://evil.example/"), "/");
        assert_eq!(safe_local_path("/\\evil.example"), "/");
        assert_eq!(safe_local_path("settings"), "/");
    }
}

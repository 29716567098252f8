//! OAuth 2.0 authorization code flow as accountview.md describes it: the authorize page (login, then consent),
//! single-use codes bound to client and redirect URI with PKCE S256, and the token endpoint (client
//! credentials in the body, refresh with optional rotation, RFC 6749 errors).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::fingerprint;
use crate::catalog::{SCOPE_READ, SCOPE_UPDATE};
use crate::errors::{OAuthError, no_store};
use crate::pages;
use crate::state::{AuthorizationCode, Grant, IssuedToken, PendingAuthorization, Shared};

/// Codes (and the login/consent step) expire after ten minutes, as accountview.md says.
const CODE_LIFETIME_SECONDS: i64 = 600;

/// A fresh unguessable value (256 bits) for codes, tokens and request ids.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Parses a query string or form body; a repeated parameter is an error (RFC 6749 §3.1, §3.2).
fn parse_pairs(input: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut pairs = HashMap::new();
    for (name, value) in form_urlencoded::parse(input) {
        if pairs.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(format!("parameter {name} is repeated"));
        }
    }
    Ok(pairs)
}

/// Builds `redirect_uri?…` (or `&…` when it already has a query) with the given parameters.
fn redirect_to(redirect_uri: &str, parameters: &[(&str, &str)]) -> Response {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in parameters {
        serializer.append_pair(name, value);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{separator}{}", serializer.finish());
    match HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => pages::error(
            StatusCode::BAD_REQUEST,
            "Ongeldige redirect_uri.",
            "Invalid redirect_uri.",
        ),
    }
}

fn redirect_error(redirect_uri: &str, error: &str, description: &str, state: Option<&str>) -> Response {
    let mut parameters = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        parameters.push(("state", state));
    }
    redirect_to(redirect_uri, &parameters)
}

/// `GET /ams/authorize.aspx`: checks the request and shows the login page.
pub async fn authorize(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let parameters = match parse_pairs(query.unwrap_or_default().as_bytes()) {
        Ok(parameters) => parameters,
        Err(problem) => {
            return pages::error(
                StatusCode::BAD_REQUEST,
                "Ongeldig autorisatieverzoek.",
                &format!("Invalid authorization request: {problem}."),
            );
        }
    };
    let get = |name: &str| {
        parameters
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    };

    // Until client and redirect URI are known to be right, errors must not redirect (RFC 6749 §4.1.2.1).
    let Some(client) = get("client_id").and_then(|client_id| shared.config.client(client_id)) else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Onbekende applicatie (client_id).",
            "Unknown client: the client_id is missing or not registered.",
        );
    };
    let Some(redirect_uri) =
        get("redirect_uri").filter(|uri| client.redirect_uris.iter().any(|registered| registered == uri))
    else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "De redirect_uri komt niet overeen met de geregistreerde adressen van deze applicatie.",
            "The redirect_uri is missing or does not match a URI registered for this client.",
        );
    };
    let state = get("state");

    if get("response_type") != Some("code") {
        return redirect_error(
            redirect_uri,
            "unsupported_response_type",
            "only response_type=code is supported",
            state,
        );
    }
    let scope: Vec<String> = get("scope")
        .unwrap_or("")
        .split(' ')
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect();
    if scope.is_empty() || scope.iter().any(|scope| scope != SCOPE_READ && scope != SCOPE_UPDATE) {
        return redirect_error(
            redirect_uri,
            "invalid_scope",
            "scope must be readaccountviewdata and/or updateaccountviewdata",
            state,
        );
    }
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (Some(challenge), Some("S256")) if is_valid_challenge(challenge) => Some(challenge.to_owned()),
        (Some(_), Some("S256")) => {
            return redirect_error(
                redirect_uri,
                "invalid_request",
                "code_challenge must be 43 base64url characters",
                state,
            );
        }
        _ => {
            return redirect_error(
                redirect_uri,
                "invalid_request",
                "PKCE needs code_challenge with code_challenge_method=S256",
                state,
            );
        }
    };

    let request_id = random_secret();
    let now = shared.clock.now();
    {
        let mut state_guard = shared.write();
        state_guard.oauth.purge_expired(now);
        state_guard.oauth.pending.insert(
            fingerprint(&request_id),
            PendingAuthorization {
                client_id: client.client_id.clone(),
                redirect_uri: redirect_uri.to_owned(),
                scope,
                state: state.map(str::to_owned),
                code_challenge,
                user: None,
                expires_at: now + Duration::seconds(CODE_LIFETIME_SECONDS),
            },
        );
    }
    pages::login(&client.name, &request_id, "", None)
}

/// A S256 challenge is the base64url SHA-256 of the verifier: 43 characters without padding.
fn is_valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~'))
}

fn expired_session() -> Response {
    pages::error(
        StatusCode::BAD_REQUEST,
        "Deze aanmeldsessie is verlopen of onbekend. Start de koppeling opnieuw vanuit de applicatie.",
        "This sign-in session expired or is unknown. Start connecting again from the application.",
    )
}

/// `POST /ams/login.aspx`: checks the credentials and shows the consent page.
pub async fn login(State(shared): State<Arc<Shared>>, body: Result<Bytes, BytesRejection>) -> Response {
    let Some(form) = body.ok().and_then(|body| parse_pairs(&body).ok()) else {
        return expired_session();
    };
    let request_id = form.get("request_id").map(String::as_str).unwrap_or("");
    let username = form.get("username").map(|name| name.trim()).unwrap_or("");
    let password = form.get("password").map(String::as_str).unwrap_or("");
    let now = shared.clock.now();
    let mut state = shared.write();
    let user = state
        .user(username)
        .filter(|user| constant_time_equal(user.password.as_bytes(), password.as_bytes()))
        .map(|user| (user.login.clone(), user.display_name.clone()));
    let Some(pending) = state
        .oauth
        .pending
        .get_mut(&fingerprint(request_id))
        .filter(|pending| pending.expires_at > now)
    else {
        return expired_session();
    };
    let client_name = shared
        .config
        .client(&pending.client_id)
        .map_or_else(|| pending.client_id.clone(), |client| client.name.clone());
    match user {
        None => pages::login(
            &client_name,
            request_id,
            username,
            Some("Onbekende gebruikersnaam of onjuist wachtwoord. / Unknown user or wrong password."),
        ),
        Some((login, display_name)) => {
            pending.user = Some(login);
            pages::consent(&client_name, &display_name, &pending.scope, request_id)
        }
    }
}

/// Compares secrets without an early exit, so timing does not reveal how much of a guess was right.
fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

/// `POST /ams/consent.aspx`: approve → redirect with a code; deny → redirect with `access_denied`.
pub async fn consent(State(shared): State<Arc<Shared>>, body: Result<Bytes, BytesRejection>) -> Response {
    let Some(form) = body.ok().and_then(|body| parse_pairs(&body).ok()) else {
        return expired_session();
    };
    let request_id = form.get("request_id").map(String::as_str).unwrap_or("");
    let decision = form.get("decision").map(String::as_str).unwrap_or("");
    let now = shared.clock.now();
    let mut state = shared.write();
    let key = fingerprint(request_id);
    let valid = state
        .oauth
        .pending
        .get(&key)
        .is_some_and(|pending| pending.expires_at > now && pending.user.is_some());
    if !valid {
        return expired_session();
    }
    if decision != "approve" && decision != "deny" {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Kies toestaan of weigeren.",
            "Choose allow or deny.",
        );
    }
    let Some(pending) = state.oauth.pending.remove(&key) else {
        return expired_session();
    };
    let state_parameter = pending.state.as_deref();
    if decision == "deny" {
        return redirect_error(
            &pending.redirect_uri,
            "access_denied",
            "the user denied access",
            state_parameter,
        );
    }
    let code = random_secret();
    state.oauth.codes.insert(
        fingerprint(&code),
        AuthorizationCode {
            client_id: pending.client_id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            user: pending.user.clone().unwrap_or_default(),
            scope: pending.scope.clone(),
            code_challenge: pending.code_challenge.clone(),
            expires_at: now + Duration::seconds(CODE_LIFETIME_SECONDS),
            exchanged_for: None,
        },
    );
    let mut parameters = vec![("code", code.as_str())];
    if let Some(state_parameter) = state_parameter {
        parameters.push(("state", state_parameter));
    }
    redirect_to(&pending.redirect_uri, &parameters)
}

#[derive(Serialize)]
struct TokenAnswer {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
    scope: String,
}

/// `POST /api/v3/token`.
pub async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return OAuthError::invalid_request("the request body could not be read").into_response();
    };
    match exchange(&shared, &headers, &body) {
        Ok(answer) => {
            let mut response = (StatusCode::OK, axum::Json(answer)).into_response();
            no_store(&mut response);
            response
        }
        Err(error) => error.into_response(),
    }
}

fn exchange(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<TokenAnswer, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(OAuthError::invalid_request(
            "the token request must be application/x-www-form-urlencoded",
        ));
    }
    let form = parse_pairs(body).map_err(OAuthError::invalid_request)?;
    let get = |name: &str| form.get(name).map(String::as_str).filter(|value| !value.is_empty());

    // Client credentials travel in the body, as accountview.md says; HTTP Basic is not offered.
    let (Some(client_id), Some(client_secret)) = (get("client_id"), get("client_secret")) else {
        return Err(OAuthError::invalid_client(
            "client_id and client_secret are required in the body",
        ));
    };
    let client = shared
        .config
        .client(client_id)
        .filter(|client| constant_time_equal(client.client_secret.as_bytes(), client_secret.as_bytes()))
        .ok_or_else(|| OAuthError::invalid_client("unknown client or wrong client_secret"))?;

    match get("grant_type") {
        None => Err(OAuthError::invalid_request("grant_type is required")),
        Some("authorization_code") => redeem_code(
            shared,
            &client.client_id,
            get("code"),
            get("redirect_uri"),
            get("code_verifier"),
        ),
        Some("refresh_token") => refresh(shared, &client.client_id, get("refresh_token"), get("scope")),
        Some(other) => Err(OAuthError::unsupported_grant_type(format!(
            "grant_type {other} is not supported"
        ))),
    }
}

fn redeem_code(
    shared: &Shared,
    client_id: &str,
    code: Option<&str>,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> Result<TokenAnswer, OAuthError> {
    let code = code.ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let redirect_uri = redirect_uri.ok_or_else(|| OAuthError::invalid_request("redirect_uri is required"))?;
    let now = shared.clock.now();
    let mut state = shared.write();
    let code_key = fingerprint(code);
    let record = state
        .oauth
        .codes
        .get(&code_key)
        .cloned()
        .ok_or_else(|| OAuthError::invalid_grant("unknown authorization code"))?;
    if record.expires_at <= now {
        state.oauth.codes.remove(&code_key);
        return Err(OAuthError::invalid_grant("the authorization code has expired"));
    }
    if let Some(grant_id) = record.exchanged_for {
        // RFC 6749 §4.1.2: a code used twice means it leaked; revoke what it was exchanged for.
        state.oauth.revoke_grant(grant_id);
        state.oauth.codes.remove(&code_key);
        return Err(OAuthError::invalid_grant(
            "the authorization code was already used; its tokens are revoked",
        ));
    }
    if record.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if record.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&record.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            if !is_valid_verifier(verifier) {
                return Err(OAuthError::invalid_grant(
                    "code_verifier must be 43-128 unreserved characters",
                ));
            }
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if !constant_time_equal(computed.as_bytes(), challenge.as_bytes()) {
                return Err(OAuthError::invalid_grant(
                    "PKCE verification failed: code_verifier does not match code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier is required: the authorization request used PKCE",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent, but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }

    let grant_id = state.oauth.next_grant_id;
    state.oauth.next_grant_id += 1;
    state.oauth.grants.insert(
        grant_id,
        Grant {
            id: grant_id,
            user: record.user.clone(),
            client_id: client_id.to_owned(),
            scope: record.scope.clone(),
            created_at: now,
        },
    );
    if let Some(stored) = state.oauth.codes.get_mut(&code_key) {
        stored.exchanged_for = Some(grant_id);
    }
    let settings = state.tokens.clone();
    let access_token = random_secret();
    let refresh_token = random_secret();
    state.oauth.access_tokens.insert(
        fingerprint(&access_token),
        IssuedToken {
            grant_id,
            scope: record.scope.clone(),
            expires_at: now + Duration::seconds(settings.access_token_seconds),
        },
    );
    state.oauth.refresh_tokens.insert(
        fingerprint(&refresh_token),
        IssuedToken {
            grant_id,
            scope: record.scope.clone(),
            expires_at: now + Duration::seconds(settings.refresh_token_seconds),
        },
    );
    Ok(TokenAnswer {
        access_token,
        token_type: "bearer",
        expires_in: settings.access_token_seconds,
        refresh_token,
        scope: record.scope.join(" "),
    })
}

fn refresh(
    shared: &Shared,
    client_id: &str,
    refresh_token: Option<&str>,
    scope: Option<&str>,
) -> Result<TokenAnswer, OAuthError> {
    let refresh_token = refresh_token.ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let now = shared.clock.now();
    let mut state = shared.write();
    state.oauth.purge_expired(now);
    let token_key = fingerprint(refresh_token);
    let record = state
        .oauth
        .refresh_tokens
        .get(&token_key)
        .cloned()
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is unknown, expired, rotated or revoked"))?;
    let grant = state
        .oauth
        .grants
        .get(&record.grant_id)
        .cloned()
        .ok_or_else(|| OAuthError::invalid_grant("the grant was revoked"))?;
    if grant.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    // RFC 6749 §6: a refresh may narrow the scope, never widen it.
    let scope: Vec<String> = match scope {
        None => record.scope.clone(),
        Some(requested) => {
            let requested: Vec<String> = requested
                .split(' ')
                .filter(|scope| !scope.is_empty())
                .map(str::to_owned)
                .collect();
            if requested.is_empty() || requested.iter().any(|scope| !record.scope.contains(scope)) {
                return Err(OAuthError::invalid_scope("a refresh cannot add scopes to the grant"));
            }
            requested
        }
    };
    let settings = state.tokens.clone();
    let access_token = random_secret();
    state.oauth.access_tokens.insert(
        fingerprint(&access_token),
        IssuedToken {
            grant_id: grant.id,
            scope: scope.clone(),
            expires_at: now + Duration::seconds(settings.access_token_seconds),
        },
    );
    let refresh_token = if settings.rotate_refresh_tokens {
        state.oauth.refresh_tokens.remove(&token_key);
        let rotated = random_secret();
        state.oauth.refresh_tokens.insert(
            fingerprint(&rotated),
            IssuedToken {
                grant_id: grant.id,
                scope: record.scope.clone(),
                expires_at: now + Duration::seconds(settings.refresh_token_seconds),
            },
        );
        rotated
    } else {
        refresh_token.to_owned()
    };
    Ok(TokenAnswer {
        access_token,
        token_type: "bearer",
        expires_in: settings.access_token_seconds,
        refresh_token,
        scope: scope.join(" "),
    })
}

//! Error answers in the two shapes of accountview.md: AccountView's own body
//! (`{"ErrorType":"AccountViewError","ErrorNumbers":[n],"ErrorMessage":"…"}`, sometimes with HTTP 200) for the
//! Web API, and RFC 6749's `{"error","error_description"}` for the token endpoint.
//!
//! Every error the sandbox gives is built here, so numbers and texts stay consistent and documented.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// AccountView error numbers the sandbox uses **(chosen: the real numbers are not public)**; the README
/// lists them.
pub mod number {
    pub const TOKEN_MISSING: u32 = 1001;
    pub const TOKEN_INVALID: u32 = 1002;
    pub const COMPANY_MISSING: u32 = 1101;
    pub const COMPANY_FORBIDDEN: u32 = 1102;
    pub const NO_RIGHT: u32 = 1201;
    pub const INSUFFICIENT_SCOPE: u32 = 1202;
    pub const UNKNOWN_ROUTE: u32 = 2000;
    pub const UNKNOWN_BUSINESS_OBJECT: u32 = 2001;
    pub const OPERATION_NOT_SUPPORTED: u32 = 2002;
    pub const INVALID_PARAMETER: u32 = 2003;
    pub const UNKNOWN_FIELD: u32 = 2004;
    pub const INVALID_FILTER: u32 = 2005;
    pub const INVALID_LAST_KEY: u32 = 2006;
    pub const MALFORMED_BODY: u32 = 2101;
    pub const INVALID_DEFINITION: u32 = 2102;
    pub const INVALID_ROW: u32 = 2103;
    pub const WRONG_TYPE: u32 = 2104;
    pub const TOO_LONG: u32 = 2105;
    pub const MANDATORY: u32 = 2106;
    pub const UNKNOWN_REFERENCE: u32 = 2107;
    pub const BLOCKED_REFERENCE: u32 = 2108;
    pub const VAT_MISMATCH: u32 = 2109;
    pub const RULE_VIOLATED: u32 = 2110;
    pub const DUPLICATE_INVOICE: u32 = 2201;
    pub const DUPLICATE_KEY: u32 = 2202;
    pub const OUTSIDE_FISCAL_YEAR: u32 = 2301;
    pub const RATE_LIMITED: u32 = 4001;
    pub const OFFLINE: u32 = 5001;
    pub const INJECTED: u32 = 9001;
}

/// The message of a duplicate invoice number, verbatim from accountview.md.
pub const DUPLICATE_INVOICE_MESSAGE: &str = "Document-/factuurnummer is al in gebruik";
/// The message of an unreachable AccountView server, verbatim from accountview.md.
pub const OFFLINE_MESSAGE: &str = "AccountView-server niet bereikbaar";

/// An error in AccountView's body shape.
#[derive(Clone, Debug)]
pub struct AvError {
    pub status: StatusCode,
    pub numbers: Vec<u32>,
    pub message: String,
    /// `WWW-Authenticate` for 401 and scope failures.
    pub www_authenticate: Option<String>,
    /// `Retry-After` in seconds for 429 (and injected 503s that want one).
    pub retry_after_seconds: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AvErrorBody<'a> {
    error_type: &'static str,
    error_numbers: &'a [u32],
    error_message: &'a str,
}

impl AvError {
    pub fn new(status: StatusCode, number: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            numbers: vec![number],
            message: message.into(),
            www_authenticate: None,
            retry_after_seconds: None,
        }
    }

    pub fn bad_request(number: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, number, message)
    }

    /// No `Authorization: Bearer` header: RFC 6750 §3 says to answer without an error code.
    pub fn token_missing() -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            number::TOKEN_MISSING,
            "Geen toegangstoken meegegeven",
        );
        error.www_authenticate = Some(r#"Bearer realm="AccountView""#.to_owned());
        error
    }

    pub fn token_invalid(reason: &str) -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            number::TOKEN_INVALID,
            format!("Toegangstoken is ongeldig of verlopen ({reason})"),
        );
        error.www_authenticate = Some(format!(
            r#"Bearer realm="AccountView", error="invalid_token", error_description="{reason}""#
        ));
        error
    }

    pub fn company_missing() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            number::COMPANY_MISSING,
            "Geen administratie opgegeven (x-company ontbreekt)",
        )
    }

    pub fn company_forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            number::COMPANY_FORBIDDEN,
            "Geen toegang tot deze administratie",
        )
    }

    pub fn no_right(business_object: &str, action: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            number::NO_RIGHT,
            format!("Onvoldoende rechten: {action} is niet toegestaan voor bedrijfsobject {business_object}"),
        )
    }

    pub fn insufficient_scope(scope: &str) -> Self {
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            number::INSUFFICIENT_SCOPE,
            format!("Het toegangstoken heeft de scope {scope} niet"),
        );
        error.www_authenticate = Some(format!(
            r#"Bearer realm="AccountView", error="insufficient_scope", scope="{scope}""#
        ));
        error
    }

    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            number::RATE_LIMITED,
            "Te veel verzoeken voor deze administratie; probeer het later opnieuw",
        );
        error.retry_after_seconds = Some(retry_after_seconds);
        error
    }

    pub fn offline() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, number::OFFLINE, OFFLINE_MESSAGE)
    }

    pub fn unknown_route() -> Self {
        Self::new(StatusCode::NOT_FOUND, number::UNKNOWN_ROUTE, "Onbekende API-route")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            number::UNKNOWN_ROUTE,
            "Deze methode is niet toegestaan op deze route",
        )
    }
}

impl IntoResponse for AvError {
    fn into_response(self) -> Response {
        let body = AvErrorBody {
            error_type: "AccountViewError",
            error_numbers: &self.numbers,
            error_message: &self.message,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = self
            .www_authenticate
            .and_then(|value| HeaderValue::from_str(&value).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// An RFC 6749 §5.2 error of the token endpoint.
#[derive(Clone, Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: String,
    pub description: String,
}

#[derive(Serialize)]
struct OAuthErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &str, description: impl Into<String>) -> Self {
        Self {
            status,
            error: error.to_owned(),
            description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = OAuthErrorBody {
            error: &self.error,
            error_description: &self.description,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        // RFC 6749 §5.1: token answers, errors included, must not be cached.
        no_store(&mut response);
        response
    }
}

/// Adds the `Cache-Control: no-store` and `Pragma: no-cache` headers of RFC 6749 §5.1.
pub fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

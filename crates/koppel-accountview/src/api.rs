//! AccountView's Web API v3 as `accountview.md` lists it, behind the [`AccountViewApi`] trait: the
//! token endpoint (the requests the `oauth2` crate builds, sent as they are), `Companies`,
//! `AccountViewSystemBusinessObjects` and `AccountViewData` (GET and POST). [`HttpApi`] is the real
//! client; tests point it at the sandbox. [`Pacer`] keeps calls that run side by side within
//! AccountView's rate limit.

use serde::Deserialize;
use serde_json::Value as Json;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The token endpoint's requests and answers, as the `oauth2` crate builds and reads them.
pub use oauth2::{HttpRequest, HttpResponse};

/// What the trait's calls return.
pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, AccountViewApiError>> + Send + 'a>>;

/// What sending a token request returns: the answer for the `oauth2` crate to read.
pub type TokenFuture<'a> = ApiFuture<'a, HttpResponse>;

/// How a call to AccountView went wrong.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum AccountViewApiError {
    /// 401: the access token is missing, invalid or expired.
    #[error("AccountView refused the access token")]
    Unauthorized,
    /// 403: no right on the business object or the company.
    #[error("AccountView refused access: {message}")]
    Forbidden { message: String },
    /// 429: try again after the given time.
    #[error("AccountView rate limit; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// 5xx (503: the customer's AccountView server is offline). A write may or may not have happened.
    #[error("AccountView answered {status}: {message}")]
    Unavailable { status: u16, message: String },
    /// No answer: timeout or a dropped connection. A write may or may not have happened.
    #[error("no answer from AccountView: {0}")]
    NoAnswer(String),
    /// AccountView refused the request itself (validation, duplicate number, fiscal year); the
    /// Dutch message is AccountView's own.
    #[error("AccountView refused the request ({status}, {numbers:?}): {message}")]
    Rejected {
        status: u16,
        numbers: Vec<u64>,
        message: String,
    },
    /// The token endpoint refused the grant (`invalid_grant`, `invalid_client`, …).
    #[error("AccountView's token endpoint answered {error}: {description}")]
    OAuth { error: String, description: String },
    /// An answer that does not fit the contract.
    #[error("unexpected answer from AccountView: {0}")]
    Protocol(String),
}

impl AccountViewApiError {
    /// Whether a write may have been stored although no success came back.
    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self,
            AccountViewApiError::Unavailable { .. } | AccountViewApiError::NoAnswer(_)
        )
    }

    /// Whether trying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            AccountViewApiError::Unavailable { .. }
                | AccountViewApiError::NoAnswer(_)
                | AccountViewApiError::RateLimited { .. }
        )
    }
}

/// A successful answer of the token endpoint. `Debug` hides the tokens.
#[derive(Clone)]
pub struct TokenAnswer {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

impl std::fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAnswer")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// An AccountView administration the user may reach.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Company {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Code")]
    pub code: String,
    #[serde(rename = "Description")]
    pub description: String,
}

/// What the signed-in AccountView user may do with one business object. Objects without any right
/// are not listed; a listed object may be read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct BusinessObjectRights {
    #[serde(rename = "Code")]
    pub code: String,
    #[serde(rename = "InsertAllowed", default)]
    pub insert: bool,
    #[serde(rename = "UpdateAllowed", default)]
    pub update: bool,
}

/// One `GET AccountViewData` request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadQuery {
    pub business_object: &'static str,
    pub page_size: u32,
    pub last_key: Option<String>,
    /// Field, operator, value type, value.
    pub filters: Vec<(&'static str, &'static str, &'static str, String)>,
}

impl ReadQuery {
    fn parameters(&self) -> Vec<(String, String)> {
        let mut parameters = vec![
            ("BusinessObject".to_string(), self.business_object.to_string()),
            ("PageSize".to_string(), self.page_size.to_string()),
        ];
        if let Some(last_key) = &self.last_key {
            parameters.push(("lastKey".to_string(), last_key.clone()));
        }
        for (index, (field, operator, value_type, value)) in self.filters.iter().enumerate() {
            let n = index + 1;
            parameters.push((format!("FilterControlSource{n}"), (*field).to_string()));
            parameters.push((format!("FilterOperator{n}"), (*operator).to_string()));
            parameters.push((format!("FilterValueType{n}"), (*value_type).to_string()));
            parameters.push((format!("FilterValue{n}"), value.clone()));
        }
        parameters
    }
}

/// AccountView's Web API. Implemented by [`HttpApi`]; a test can put anything else behind it.
pub trait AccountViewApi: Send + Sync + 'static {
    /// Sends a request to the token endpoint (`POST /api/v3/token`, built by the `oauth2` crate) and
    /// returns its answer for `oauth2` to read. A 5xx answer is [`AccountViewApiError::Unavailable`] here, so it
    /// is retried like any other call rather than taken for AccountView's refusal of the grant.
    fn token(&self, request: HttpRequest) -> TokenFuture<'_>;
    fn companies<'a>(&'a self, access_token: &'a str) -> ApiFuture<'a, Vec<Company>>;
    fn business_objects<'a>(
        &'a self,
        access_token: &'a str,
        company: &'a str,
    ) -> ApiFuture<'a, Vec<BusinessObjectRights>>;
    fn read<'a>(&'a self, access_token: &'a str, company: &'a str, query: &'a ReadQuery) -> ApiFuture<'a, Json>;
    fn write<'a>(&'a self, access_token: &'a str, company: &'a str, body: &'a Json) -> ApiFuture<'a, Json>;
}

/// The real client: reqwest with a timeout and redirects off.
#[derive(Debug, Clone)]
pub struct HttpApi {
    base_url: String,
    http: reqwest::Client,
}

impl HttpApi {
    pub fn new(base_url: &str, timeout: Duration) -> Result<HttpApi, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(HttpApi {
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Json, AccountViewApiError> {
        let response = request
            .send()
            .await
            .map_err(|error| AccountViewApiError::NoAnswer(error.to_string()))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        let text = response
            .text()
            .await
            .map_err(|error| AccountViewApiError::NoAnswer(error.to_string()))?;
        let body: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
        let message = body["ErrorMessage"].as_str().unwrap_or_default().to_string();
        let numbers: Vec<u64> = body["ErrorNumbers"]
            .as_array()
            .map(|numbers| numbers.iter().filter_map(Json::as_u64).collect())
            .unwrap_or_default();
        match status {
            200..=299 if body["ErrorType"].is_string() => Err(AccountViewApiError::Rejected {
                status,
                numbers,
                message,
            }),
            200..=299 => Ok(body),
            401 => Err(AccountViewApiError::Unauthorized),
            403 => Err(AccountViewApiError::Forbidden { message }),
            429 => Err(AccountViewApiError::RateLimited {
                retry_after: Duration::from_secs(retry_after.unwrap_or(1)),
            }),
            400..=499 => Err(AccountViewApiError::Rejected {
                status,
                numbers,
                message,
            }),
            _ => Err(AccountViewApiError::Unavailable {
                status,
                message: if message.is_empty() {
                    text.chars().take(200).collect()
                } else {
                    message
                },
            }),
        }
    }
}

impl AccountViewApi for HttpApi {
    fn token(&self, request: HttpRequest) -> TokenFuture<'_> {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|error| AccountViewApiError::Protocol(error.to_string()))?;
            let response = self
                .http
                .execute(request)
                .await
                .map_err(|error| AccountViewApiError::NoAnswer(error.to_string()))?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map_err(|error| AccountViewApiError::Protocol(error.to_string()))?;
            if status.is_server_error() {
                let body: Json =
                    serde_json::from_slice(&body).map_err(|error| AccountViewApiError::Protocol(error.to_string()))?;
                return Err(AccountViewApiError::Unavailable {
                    status: status.as_u16(),
                    message: body.to_string(),
                });
            }
            let mut answer = HttpResponse::new(body.to_vec());
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }

    fn companies<'a>(&'a self, access_token: &'a str) -> ApiFuture<'a, Vec<Company>> {
        Box::pin(async move {
            let body = self
                .send(self.http.get(self.url("/api/v3/Companies")).bearer_auth(access_token))
                .await?;
            serde_json::from_value(body).map_err(|error| AccountViewApiError::Protocol(error.to_string()))
        })
    }

    fn business_objects<'a>(
        &'a self,
        access_token: &'a str,
        company: &'a str,
    ) -> ApiFuture<'a, Vec<BusinessObjectRights>> {
        Box::pin(async move {
            let body = self
                .send(
                    self.http
                        .get(self.url("/api/v3/AccountViewSystemBusinessObjects"))
                        .bearer_auth(access_token)
                        .header("x-company", company),
                )
                .await?;
            serde_json::from_value(body).map_err(|error| AccountViewApiError::Protocol(error.to_string()))
        })
    }

    fn read<'a>(&'a self, access_token: &'a str, company: &'a str, query: &'a ReadQuery) -> ApiFuture<'a, Json> {
        Box::pin(async move {
            self.send(
                self.http
                    .get(self.url("/api/v3/AccountViewData"))
                    .bearer_auth(access_token)
                    .header("x-company", company)
                    .query(&query.parameters()),
            )
            .await
        })
    }

    fn write<'a>(&'a self, access_token: &'a str, company: &'a str, body: &'a Json) -> ApiFuture<'a, Json> {
        Box::pin(async move {
            self.send(
                self.http
                    .post(self.url("/api/v3/AccountViewData"))
                    .bearer_auth(access_token)
                    .header("x-company", company)
                    .json(body),
            )
            .await
        })
    }
}

/// Koppel's own side of AccountView's rate limit (600 calls a minute per client and administration),
/// shared by calls that run side by side: they go out one per `60 s / limit`, never in a burst, so
/// AccountView's allowance for bursts is left for the jitter of the network; and a 429 pauses all of
/// them, not only the call that met it, until its `Retry-After` has passed.
#[derive(Debug)]
pub struct Pacer {
    /// Time between two calls; `None`: no limit of Koppel's own (429s still pause).
    interval: Option<Duration>,
    state: Mutex<PacerState>,
}

#[derive(Debug)]
struct PacerState {
    /// The earliest moment the next call may go out.
    next: Instant,
}

impl Pacer {
    /// A pacer for `per_minute` calls a minute; 0 sets no limit of its own.
    pub fn new(per_minute: u32) -> Pacer {
        Pacer::starting_at(per_minute, Instant::now())
    }

    fn starting_at(per_minute: u32, now: Instant) -> Pacer {
        Pacer {
            interval: (per_minute > 0).then(|| Duration::from_secs(60) / per_minute),
            state: Mutex::new(PacerState { next: now }),
        }
    }

    /// Waits until a call may go out, and takes its turn.
    pub async fn admit(&self) {
        loop {
            match self.try_admit(Instant::now()) {
                None => return,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Takes a turn now, or says how long to wait before asking again.
    fn try_admit(&self, now: Instant) -> Option<Duration> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.next > now {
            return Some(state.next - now);
        }
        if let Some(interval) = self.interval {
            // A caller that woke a little late may catch up half a turn, so timer slack does not
            // add up to a slower rate; a longer pause is not made up for with a burst.
            let earliest = now.checked_sub(interval / 2).unwrap_or(now);
            state.next = state.next.max(earliest) + interval;
        }
        None
    }

    /// AccountView answered 429: no call goes out before `retry_after` has passed.
    pub fn pause(&self, retry_after: Duration) {
        self.pause_at(Instant::now(), retry_after);
    }

    fn pause_at(&self, now: Instant, retry_after: Duration) {
        let until = now + retry_after;
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.next = state.next.max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_spaces_calls_and_a_pause_holds_them_all() {
        let ms = Duration::from_millis;
        let start = Instant::now();
        let pacer = Pacer::starting_at(600, start);
        assert_eq!(pacer.try_admit(start), None, "the first call goes at once");
        assert_eq!(pacer.try_admit(start), Some(ms(100)), "then one per 100 ms");
        assert_eq!(pacer.try_admit(start + ms(60)), Some(ms(40)));
        assert_eq!(pacer.try_admit(start + ms(100)), None);
        // Woken 40 ms late: the next turn stays on the 100 ms grid.
        assert_eq!(pacer.try_admit(start + ms(240)), None);
        assert_eq!(pacer.try_admit(start + ms(240)), Some(ms(60)));
        // After a quiet second there is no burst: one call, and the next after at least half a turn.
        assert_eq!(pacer.try_admit(start + ms(1300)), None);
        assert_eq!(pacer.try_admit(start + ms(1300)), Some(ms(50)));
        // A 429 holds every caller until its Retry-After has passed.
        pacer.pause_at(start + ms(1350), Duration::from_secs(2));
        assert_eq!(pacer.try_admit(start + ms(1450)), Some(ms(1900)));
        assert_eq!(pacer.try_admit(start + ms(3350)), None);

        let unlimited = Pacer::starting_at(0, start);
        for _ in 0..100 {
            assert_eq!(unlimited.try_admit(start), None);
        }
        unlimited.pause_at(start, Duration::from_secs(1));
        assert_eq!(unlimited.try_admit(start + ms(500)), Some(ms(500)));
        assert_eq!(unlimited.try_admit(start + ms(1000)), None);
    }
}

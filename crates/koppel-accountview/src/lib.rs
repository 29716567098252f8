//! The AccountView integration: sign-in with AccountView's own login and consent page (OAuth 2.0
//! authorization code with PKCE), the connection per administration with its settings and the check
//! before saving, the import of master data and the exactly-once export of completed work orders as
//! sales invoices. This is the only crate that knows AccountView's wire format; it knows no HTTP
//! server (the pages and the REST API are in `koppel-web`).
//!
//! - [`api`]: the Web API behind a trait, and the real HTTP client.
//! - [`oauth`]: sign-in, and the one function that talks to the token endpoint.
//! - [`connection`]: where a connection stands, who may use it, and what users start from it
//!   (import now, export now); the REST API and the pages both call these.
//! - [`settings`]: what a user configures, and the check before saving.
//! - [`import`] / [`export`]: the two job kinds, `accountview_import` and `accountview_export`.
//! - [`log`]: the recent imports and exports with their failed items.
//! - [`storage`]: what the integration keeps in the database, with its own queries.

pub mod api;
pub mod connection;
pub mod crypto;
pub mod export;
pub mod import;
pub mod log;
pub mod oauth;
pub mod settings;
pub mod storage;

pub use api::{AccountViewApi, AccountViewApiError, HttpApi};
pub use connection::{ConnectionState, POWER_UP, REQUIRED_RIGHT, SavedSettings};
pub use crypto::{Cipher, CryptoError, Secret};
pub use oauth::{CallbackParameters, SignInError};
pub use settings::{CheckItem, CheckReport, ExportSettings, ImportCategory, ImportSettings, Settings};

use crate::storage::Connection;
use koppel_domain::AdministrationId;
use koppel_jobs::JobError;
use koppel_jobs::runs::RunMessage;
use koppel_store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// The operator's `[accountview]` configuration.
#[derive(Debug, Clone)]
pub struct AccountViewConfig {
    /// `https://www.accountview.net`, or the sandbox's `http://127.0.0.1:<port>`.
    pub base_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Koppel's callback, registered with AccountView.
    pub redirect_url: String,
    /// 32 bytes (64 hex digits or base64) that encrypt tokens at rest.
    pub encryption_key: Secret,
    pub request_timeout: Duration,
    /// First wait before a retry of a rate-limited, offline or unanswered call; doubles per retry.
    pub retry_base: Duration,
    /// Retries of one call within a job before the job gives up for now.
    pub max_retries: u32,
    /// Rows per page when reading.
    pub page_size: u32,
    /// Invoices one export run has in flight at a time (at least 1): with AccountView's latency, one at
    /// a time would stay far below its rate limit.
    pub export_concurrency: usize,
    /// Calls a minute an export run allows itself (AccountView's limit is 600 per client and
    /// administration); its calls go out evenly spaced at that rate. 0: no pacing of its own, only
    /// AccountView's 429s.
    pub rate_limit_per_minute: u32,
}

impl AccountViewConfig {
    /// A configuration with the documented defaults for timeouts, retries and paging.
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
        redirect_url: impl Into<String>,
        encryption_key: Secret,
    ) -> AccountViewConfig {
        AccountViewConfig {
            base_url: base_url.into(),
            client_id: client_id.into(),
            client_secret,
            redirect_url: redirect_url.into(),
            encryption_key,
            request_timeout: Duration::from_secs(30),
            retry_base: Duration::from_secs(1),
            max_retries: 6,
            page_size: 500,
            export_concurrency: 8,
            rate_limit_per_minute: 600,
        }
    }
}

/// Why the integration could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AccountViewError {
    #[error("this administration is not connected to AccountView")]
    NotConnected,
    #[error("the AccountView consent has expired or was revoked")]
    AuthenticationExpired,
    #[error("no AccountView administration has been saved for this connection")]
    NotConfigured,
    #[error(transparent)]
    Api(#[from] AccountViewApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// The message users read when the consent is gone.
pub fn authentication_expired_message() -> RunMessage {
    RunMessage::new(
        "Authenticatie verlopen. Verbind de integratie opnieuw om gegevens te synchroniseren.",
        "Authentication expired. Reconnect the integration to sync data.",
    )
}

impl From<AccountViewError> for JobError {
    fn from(error: AccountViewError) -> JobError {
        match error {
            AccountViewError::AuthenticationExpired => JobError::permanent(authentication_expired_message(), error),
            AccountViewError::NotConnected | AccountViewError::NotConfigured => JobError::permanent(
                RunMessage::new(
                    "AccountView is niet (volledig) verbonden voor deze administratie.",
                    "AccountView is not (fully) connected for this administration.",
                ),
                error,
            ),
            AccountViewError::Api(AccountViewApiError::Forbidden { ref message }) => {
                let message = message.clone();
                JobError::permanent(
                    RunMessage::new(
                        format!("AccountView weigert de toegang; controleer de rechten van de gebruiker. ({message})"),
                        format!("AccountView refused access; check the user's rights. ({message})"),
                    ),
                    error,
                )
            }
            AccountViewError::Store(store) => store.into(),
            AccountViewError::Crypto(_) => JobError::permanent(
                RunMessage::new(
                    "De opgeslagen AccountView-gegevens konden niet worden gelezen. Verbind opnieuw.",
                    "The stored AccountView credentials could not be read. Connect again.",
                ),
                error,
            ),
            other => JobError::transient(other),
        }
    }
}

/// The integration: configuration, the API, the store and the token cipher, shared by the pages,
/// the REST API and the jobs.
#[derive(Clone)]
pub struct AccountView {
    pub(crate) config: Arc<AccountViewConfig>,
    pub(crate) api: Arc<dyn AccountViewApi>,
    pub(crate) store: Store,
    pub(crate) cipher: Cipher,
}

impl std::fmt::Debug for AccountView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountView")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AccountView {
    /// The integration with the real HTTP client.
    pub fn new(config: AccountViewConfig, store: Store) -> Result<AccountView, anyhow::Error> {
        let api = HttpApi::new(&config.base_url, config.request_timeout)?;
        Ok(AccountView::with_api(config, store, Arc::new(api))?)
    }

    /// The integration over any implementation of the API.
    pub fn with_api(
        config: AccountViewConfig,
        store: Store,
        api: Arc<dyn AccountViewApi>,
    ) -> Result<AccountView, CryptoError> {
        let cipher = Cipher::from_key_text(&config.encryption_key)?;
        Ok(AccountView {
            config: Arc::new(config),
            api,
            store,
            cipher,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &AccountViewConfig {
        &self.config
    }

    /// The connection of an administration, if any.
    pub async fn connection(&self, administration: AdministrationId) -> Result<Option<Connection>, AccountViewError> {
        Ok(storage::connection(&self.store, administration).await?)
    }

    /// Disconnects: tokens and cursors are deleted, so schedules find nothing to do; imported data
    /// and the export ledger stay. AccountView has no revocation endpoint.
    pub async fn disconnect(&self, administration: AdministrationId) -> Result<bool, AccountViewError> {
        Ok(storage::disconnect(&self.store, administration).await?)
    }

    /// The AccountView administrations the connected user may reach.
    pub async fn companies(&self, administration: AdministrationId) -> Result<Vec<api::Company>, AccountViewError> {
        match self.call(administration, Call::Companies).await? {
            Answer::Companies(companies) => Ok(companies),
            _ => unreachable!("companies answer companies"),
        }
    }

    /// The connected user's rights in one AccountView administration.
    pub async fn business_objects(
        &self,
        administration: AdministrationId,
        company: &str,
    ) -> Result<Vec<api::BusinessObjectRights>, AccountViewError> {
        match self.call(administration, Call::BusinessObjects { company }).await? {
            Answer::Rights(rights) => Ok(rights),
            _ => unreachable!("business objects answer rights"),
        }
    }

    /// One page of `GET AccountViewData`.
    pub(crate) async fn read(
        &self,
        administration: AdministrationId,
        company: &str,
        query: &api::ReadQuery,
    ) -> Result<serde_json::Value, AccountViewError> {
        match self.call(administration, Call::Read { company, query }).await? {
            Answer::Data(data) => Ok(data),
            _ => unreachable!("reads answer data"),
        }
    }

    /// Runs one API call with a fresh access token: a 401 refreshes once and tries again; rate limits,
    /// an offline server and missing answers are retried with backoff. Only for calls that are safe
    /// to repeat (reads); the export handles its writes itself.
    async fn call(&self, administration: AdministrationId, call: Call<'_>) -> Result<Answer, AccountViewError> {
        let mut retries = 0;
        let mut refreshed = false;
        loop {
            let token = self.access_token(administration).await?;
            let api = self.api.as_ref();
            let result = match &call {
                Call::Companies => api.companies(&token.secret).await.map(Answer::Companies),
                Call::BusinessObjects { company } => {
                    api.business_objects(&token.secret, company).await.map(Answer::Rights)
                }
                Call::Read { company, query } => api.read(&token.secret, company, query).await.map(Answer::Data),
            };
            match result {
                Ok(answer) => return Ok(answer),
                Err(AccountViewApiError::Unauthorized) if !refreshed => {
                    refreshed = true;
                    storage::expire_access(&self.store, administration, token.version).await?;
                }
                Err(error) if error.is_retryable() && retries < self.config.max_retries => {
                    self.wait_before_retry(&error, retries).await;
                    retries += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Waits before retry number `retries` (from 0): `Retry-After` when AccountView gave one,
    /// otherwise exponential backoff with jitter.
    pub(crate) async fn wait_before_retry(&self, error: &AccountViewApiError, retries: u32) {
        let delay = match error {
            AccountViewApiError::RateLimited { retry_after } => *retry_after,
            _ => {
                let ceiling = self.config.retry_base.saturating_mul(1 << retries.min(10));
                let half = ceiling / 2;
                let jitter_ms = u64::try_from((ceiling - half).as_millis()).unwrap_or(0);
                half + Duration::from_millis(rand::random_range(0..=jitter_ms))
            }
        };
        tracing::debug!(delay_ms = delay.as_millis() as u64, error = %error, "retrying an AccountView call");
        tokio::time::sleep(delay).await;
    }
}

/// A repeatable call for [`AccountView::call`].
enum Call<'q> {
    Companies,
    BusinessObjects {
        company: &'q str,
    },
    Read {
        company: &'q str,
        query: &'q api::ReadQuery,
    },
}

enum Answer {
    Companies(Vec<api::Company>),
    Rights(Vec<api::BusinessObjectRights>),
    Data(serde_json::Value),
}

//! Signing in with AccountView: the authorization code flow with PKCE (S256) and a random `state`
//! that is stored server-side (hashed), bound to the user and the administration, single use and
//! valid for ten minutes; and the one function that talks to the token endpoint ([`AccountView::redeem`]),
//! used both to exchange a code and to refresh, with refreshes single-flight per connection across
//! all nodes ([`AccountView::access_token`]).
//!
//! The OAuth client requests themselves (the authorize URL with its PKCE challenge, the code exchange
//! and the refresh) are the `oauth2` crate's; its requests travel through [`AccountViewApi::token`],
//! so they use Koppel's own HTTP client (timeouts, redirects off). What is Koppel's own is around
//! them: the stored single-use state and the single-flight refresh.
//!
//! [`AccountViewApi::token`]: crate::api::AccountViewApi::token

use crate::api::{AccountViewApi, AccountViewApiError, TokenAnswer, TokenFuture};
use crate::settings::Settings;
use crate::storage::{self, ConnectionStatus, OAuthState, StoredTokens};
use crate::{AccountView, AccountViewError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use koppel_domain::{AdministrationId, UserId};
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AsyncHttpClient, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, HttpRequest, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// AccountView's OAuth client as the `oauth2` crate builds it: authorize and token endpoints set.
type OAuthClient = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The scopes Koppel asks for: reading master data and posting invoices.
pub const SCOPES: &str = "readaccountviewdata updateaccountviewdata";

/// How long a sign-in may take from "Log in" to the callback.
const STATE_LIFETIME_MINUTES: i64 = 10;

/// An access token is refreshed when it has less than this left.
const EXPIRY_MARGIN_SECONDS: i64 = 60;

/// How long one node may hold the right to refresh a connection's tokens.
const REFRESH_LEASE_SECONDS: i64 = 30;

/// What AccountView sends back to the callback.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CallbackParameters {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl CallbackParameters {
    /// The parameters of a callback address, as a browser that AccountView sent there carries them.
    pub fn from_callback_url(address: &str) -> Result<CallbackParameters, oauth2::url::ParseError> {
        let url = oauth2::url::Url::parse(address)?;
        let parameter = |name: &str| {
            url.query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        Ok(CallbackParameters {
            state: parameter("state"),
            code: parameter("code"),
            error: parameter("error"),
            error_description: parameter("error_description"),
        })
    }
}

/// Why a sign-in did not produce a connection. Each has a message for the settings page.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// No such state, already used, or another user's: a forged or replayed callback.
    #[error("the sign-in could not be verified (unknown, reused or foreign state)")]
    InvalidState,
    #[error("the sign-in took longer than ten minutes")]
    Expired,
    /// The user declined on AccountView's consent page.
    #[error("access was denied in AccountView")]
    Denied,
    #[error("AccountView reported an error: {0}")]
    Provider(String),
    #[error(transparent)]
    Sync(#[from] AccountViewError),
}

impl SignInError {
    /// A stable code for the page's message.
    pub fn code(&self) -> &'static str {
        match self {
            SignInError::InvalidState => "invalid_state",
            SignInError::Expired => "expired",
            SignInError::Denied => "denied",
            SignInError::Provider(_) | SignInError::Sync(_) => "failed",
        }
    }
}

/// A usable access token and the version of the tokens it belongs to. `Debug` hides it.
pub(crate) struct AccessToken {
    pub secret: String,
    pub version: i64,
}

/// The `oauth2` crate's HTTP client for the token endpoint: [`AccountViewApi::token`], so its requests
/// go through Koppel's own client (timeouts, redirects off).
///
/// [`AccountViewApi::token`]: crate::api::AccountViewApi::token
struct TokenEndpoint<'a>(&'a dyn AccountViewApi);

impl<'c> AsyncHttpClient<'c> for TokenEndpoint<'_> {
    type Error = AccountViewApiError;
    type Future = TokenFuture<'c>;

    fn call(&'c self, request: HttpRequest) -> TokenFuture<'c> {
        self.0.token(request)
    }
}

/// The grants of the token endpoint.
enum Grant<'a> {
    AuthorizationCode { code: &'a str, verifier: &'a str },
    RefreshToken { refresh_token: &'a str },
}

fn random_text() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

impl AccountView {
    /// Starts a sign-in for `user` on `administration`: remembers a fresh state and PKCE verifier,
    /// and returns the address of AccountView's login page to send the browser to.
    pub async fn begin_sign_in(
        &self,
        administration: AdministrationId,
        user: UserId,
    ) -> Result<String, AccountViewError> {
        let client = self.oauth_client()?;
        let state = random_text();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _) = client
            .authorize_url(|| CsrfToken::new(state.clone()))
            .add_scopes(SCOPES.split(' ').map(|scope| Scope::new(scope.to_string())))
            .set_pkce_challenge(challenge)
            .url();
        let expires_at = self.store.now() + chrono::Duration::minutes(STATE_LIFETIME_MINUTES);
        let pending = OAuthState {
            administration,
            user,
            code_verifier: self.cipher.encrypt(verifier.secret()),
            expires_at,
        };
        storage::create_oauth_state(&self.store, &hash(&state), &pending).await?;
        Ok(url.to_string())
    }

    /// Completes a sign-in from the callback for the signed-in `user`. The state is used up whatever
    /// happens next. Returns the administration the sign-in was for; the caller checks that the user
    /// may still manage it.
    pub async fn complete_sign_in(
        &self,
        parameters: &CallbackParameters,
        user: UserId,
    ) -> Result<AdministrationId, SignInError> {
        let Some(state) = parameters.state.as_deref().filter(|s| !s.is_empty()) else {
            return Err(SignInError::InvalidState);
        };
        let stored = storage::take_oauth_state(&self.store, &hash(state))
            .await
            .map_err(AccountViewError::from)?
            .ok_or(SignInError::InvalidState)?;
        if stored.user != user {
            return Err(SignInError::InvalidState);
        }
        if stored.expires_at < self.store.now() {
            return Err(SignInError::Expired);
        }
        match parameters.error.as_deref() {
            Some("access_denied") => return Err(SignInError::Denied),
            Some(error) => {
                let description = parameters.error_description.clone().unwrap_or_default();
                return Err(SignInError::Provider(
                    format!("{error} {description}").trim().to_string(),
                ));
            }
            None => {}
        }
        let code = parameters
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| SignInError::Provider("no code in the callback".into()))?;
        let verifier = self
            .cipher
            .decrypt(&stored.code_verifier)
            .map_err(AccountViewError::from)?;
        let answer = self
            .redeem(Grant::AuthorizationCode {
                code,
                verifier: &verifier,
            })
            .await
            .map_err(|error| SignInError::Provider(error.to_string()))?;
        let tokens = self.seal(&answer);
        let defaults = serde_json::to_value(Settings::defaults(self.store.now())).expect("settings serialise");
        storage::connect(&self.store, stored.administration, user, &tokens, &defaults)
            .await
            .map_err(AccountViewError::from)?;
        tracing::info!(administration.id = %stored.administration, "AccountView connected");
        Ok(stored.administration)
    }

    /// Encrypts a token answer for storage.
    fn seal(&self, answer: &TokenAnswer) -> StoredTokens {
        StoredTokens {
            access_token: self.cipher.encrypt(&answer.access_token),
            access_expires_at: self.store.now() + chrono::Duration::seconds(answer.expires_in.max(0)),
            refresh_token: self.cipher.encrypt(&answer.refresh_token),
        }
    }

    /// AccountView's OAuth client: the client secret travels in the body, as AccountView wants it.
    fn oauth_client(&self) -> Result<OAuthClient, AccountViewApiError> {
        let base = self.config.base_url.trim_end_matches('/');
        let invalid = |error: oauth2::url::ParseError| {
            AccountViewApiError::Protocol(format!("the configured AccountView addresses are not URLs: {error}"))
        };
        Ok(BasicClient::new(ClientId::new(self.config.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.config.client_secret.expose().to_string()))
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(AuthUrl::new(format!("{base}/ams/authorize.aspx")).map_err(invalid)?)
            .set_token_uri(TokenUrl::new(format!("{base}/api/v3/token")).map_err(invalid)?)
            .set_redirect_uri(RedirectUrl::new(self.config.redirect_url.clone()).map_err(invalid)?))
    }

    /// The one function that talks to the token endpoint: exchanging a code and refreshing both come
    /// through here, sent by [`TokenEndpoint`].
    async fn redeem(&self, grant: Grant<'_>) -> Result<TokenAnswer, AccountViewApiError> {
        let client = self.oauth_client()?;
        let endpoint = TokenEndpoint(self.api.as_ref());
        let answer = match grant {
            Grant::AuthorizationCode { code, verifier } => {
                client
                    .exchange_code(AuthorizationCode::new(code.to_string()))
                    .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
                    .request_async(&endpoint)
                    .await
            }
            Grant::RefreshToken { refresh_token } => {
                client
                    .exchange_refresh_token(&RefreshToken::new(refresh_token.to_string()))
                    .request_async(&endpoint)
                    .await
            }
        };
        token_answer(answer)
    }

    /// A valid access token for the connection, refreshing it when it is (nearly) expired.
    ///
    /// Refreshing is single-flight per connection across nodes: a node first claims a short lease on
    /// the connection row by compare-and-set on the token version; the others wait for the new
    /// version. The new tokens (refresh token included) are stored before the new access token is
    /// returned. `invalid_grant` means the consent is gone: the connection is marked "authentication
    /// expired" and nobody retries.
    pub(crate) async fn access_token(&self, administration: AdministrationId) -> Result<AccessToken, AccountViewError> {
        loop {
            let connection = storage::connection(&self.store, administration)
                .await?
                .ok_or(AccountViewError::NotConnected)?;
            if connection.status == ConnectionStatus::AuthenticationExpired {
                return Err(AccountViewError::AuthenticationExpired);
            }
            let now = self.store.now();
            let fresh = connection
                .access_expires_at
                .is_some_and(|at| at > now + chrono::Duration::seconds(EXPIRY_MARGIN_SECONDS));
            if let (true, Some(access)) = (fresh, &connection.access_token) {
                return Ok(AccessToken {
                    secret: self.cipher.decrypt(access)?,
                    version: connection.token_version,
                });
            }
            let lease_until: DateTime<Utc> = now + chrono::Duration::seconds(REFRESH_LEASE_SECONDS);
            if !storage::claim_refresh(&self.store, administration, connection.token_version, lease_until).await? {
                // Another node (or task) is refreshing; its new version will show up shortly.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            let refresh_token = match &connection.refresh_token {
                Some(sealed) => self.cipher.decrypt(sealed)?,
                None => {
                    storage::mark_expired(&self.store, administration).await?;
                    return Err(AccountViewError::AuthenticationExpired);
                }
            };
            match self
                .redeem(Grant::RefreshToken {
                    refresh_token: &refresh_token,
                })
                .await
            {
                Ok(answer) => {
                    let tokens = self.seal(&answer);
                    if storage::store_refreshed(&self.store, administration, connection.token_version, &tokens).await? {
                        tracing::debug!(administration.id = %administration, "AccountView tokens refreshed");
                        return Ok(AccessToken {
                            secret: answer.access_token,
                            version: connection.token_version + 1,
                        });
                    }
                    // The connection changed under us (disconnected, reconnected): read it again.
                }
                Err(AccountViewApiError::OAuth { error, description }) if error == "invalid_grant" => {
                    tracing::warn!(
                        administration.id = %administration,
                        oauth.error_description = %description,
                        "AccountView consent is gone; the connection needs a new sign-in"
                    );
                    storage::mark_expired(&self.store, administration).await?;
                    return Err(AccountViewError::AuthenticationExpired);
                }
                Err(error) => {
                    storage::release_refresh(&self.store, administration, connection.token_version).await?;
                    return Err(error.into());
                }
            }
        }
    }
}

/// The token endpoint's answer in Koppel's terms: the tokens, or the [`AccountViewApiError`] that says what
/// went wrong (AccountView's own OAuth error, no answer, or an answer outside the contract).
fn token_answer(
    answer: Result<BasicTokenResponse, RequestTokenError<AccountViewApiError, BasicErrorResponse>>,
) -> Result<TokenAnswer, AccountViewApiError> {
    match answer {
        Ok(tokens) => {
            let missing = |field: &str| AccountViewApiError::Protocol(format!("the token answer has no {field}"));
            let refresh_token = tokens.refresh_token().ok_or_else(|| missing("refresh_token"))?;
            let expires_in = tokens.expires_in().ok_or_else(|| missing("expires_in"))?;
            Ok(TokenAnswer {
                access_token: tokens.access_token().secret().clone(),
                refresh_token: refresh_token.secret().clone(),
                expires_in: i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX),
            })
        }
        Err(RequestTokenError::ServerResponse(refusal)) => Err(AccountViewApiError::OAuth {
            error: refusal.error().to_string(),
            description: refusal.error_description().cloned().unwrap_or_default(),
        }),
        Err(RequestTokenError::Request(error)) => Err(error),
        Err(RequestTokenError::Parse(error, _)) => Err(AccountViewApiError::Protocol(error.to_string())),
        Err(RequestTokenError::Other(message)) => Err(AccountViewApiError::Protocol(message)),
    }
}

//! Signing in with AccountView: the authorization code flow with PKCE (S256) and a random `state`
//! that is stored server-side (hashed), bound to the user and the administration, single use and
//! valid for ten minutes; and the one function that talks to the token endpoint ([`AccountView::redeem`]),
//! used both to exchange a code and to refresh, with refreshes single-flight per connection across
//! all nodes ([`AccountView::access_token`]).

use crate::api::{ApiError, TokenAnswer};
use crate::settings::Settings;
use crate::{AccountView, SyncError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use koppel_domain::{AdministrationId, UserId};
use koppel_store::accountview::{ConnectionStatus, OAuthState, StoredTokens};
use sha2::{Digest, Sha256};
use std::time::Duration;

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
    Sync(#[from] SyncError),
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
    pub async fn begin_sign_in(&self, administration: AdministrationId, user: UserId) -> Result<String, SyncError> {
        let state = random_text();
        let verifier = random_text();
        let challenge = hash(&verifier);
        let expires_at = self.store.now() + chrono::Duration::minutes(STATE_LIFETIME_MINUTES);
        self.store
            .accountview_create_oauth_state(
                &hash(&state),
                &OAuthState {
                    administration,
                    user,
                    code_verifier: self.cipher.encrypt(&verifier),
                    expires_at,
                },
            )
            .await?;
        Ok(self.api.authorize_url(&[
            ("response_type", "code"),
            ("client_id", &self.config.client_id),
            ("redirect_uri", &self.config.redirect_url),
            ("scope", SCOPES),
            ("state", &state),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]))
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
        let stored = self
            .store
            .accountview_take_oauth_state(&hash(state))
            .await
            .map_err(SyncError::from)?
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
        let verifier = self.cipher.decrypt(&stored.code_verifier).map_err(SyncError::from)?;
        let answer = self
            .redeem(Grant::AuthorizationCode {
                code,
                verifier: &verifier,
            })
            .await
            .map_err(|error| SignInError::Provider(error.to_string()))?;
        let tokens = self.seal(&answer);
        let defaults = serde_json::to_value(Settings::defaults(self.store.now())).expect("settings serialise");
        self.store
            .accountview_connect(stored.administration, user, &tokens, &defaults)
            .await
            .map_err(SyncError::from)?;
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

    /// The one function that talks to the token endpoint: exchanging a code and refreshing both come
    /// through here. The client secret travels in the body, as AccountView wants it.
    async fn redeem(&self, grant: Grant<'_>) -> Result<TokenAnswer, ApiError> {
        let mut form = vec![
            ("client_id", self.config.client_id.clone()),
            ("client_secret", self.config.client_secret.expose().to_string()),
        ];
        match grant {
            Grant::AuthorizationCode { code, verifier } => {
                form.push(("grant_type", "authorization_code".into()));
                form.push(("code", code.into()));
                form.push(("redirect_uri", self.config.redirect_url.clone()));
                form.push(("code_verifier", verifier.into()));
            }
            Grant::RefreshToken { refresh_token } => {
                form.push(("grant_type", "refresh_token".into()));
                form.push(("refresh_token", refresh_token.into()));
            }
        }
        self.api.token(form).await
    }

    /// A valid access token for the connection, refreshing it when it is (nearly) expired.
    ///
    /// Refreshing is single-flight per connection across nodes: a node first claims a short lease on
    /// the connection row by compare-and-set on the token version; the others wait for the new
    /// version. The new tokens (refresh token included) are stored before the new access token is
    /// returned. `invalid_grant` means the consent is gone: the connection is marked "authentication
    /// expired" and nobody retries.
    pub(crate) async fn access_token(&self, administration: AdministrationId) -> Result<AccessToken, SyncError> {
        loop {
            let connection = self
                .store
                .accountview_connection(administration)
                .await?
                .ok_or(SyncError::NotConnected)?;
            if connection.status == ConnectionStatus::AuthenticationExpired {
                return Err(SyncError::AuthenticationExpired);
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
            if !self
                .store
                .accountview_claim_refresh(administration, connection.token_version, lease_until)
                .await?
            {
                // Another node (or task) is refreshing; its new version will show up shortly.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            let refresh_token = match &connection.refresh_token {
                Some(sealed) => self.cipher.decrypt(sealed)?,
                None => {
                    self.store.accountview_mark_expired(administration).await?;
                    return Err(SyncError::AuthenticationExpired);
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
                    if self
                        .store
                        .accountview_store_refreshed(administration, connection.token_version, &tokens)
                        .await?
                    {
                        tracing::debug!(administration.id = %administration, "AccountView tokens refreshed");
                        return Ok(AccessToken {
                            secret: answer.access_token,
                            version: connection.token_version + 1,
                        });
                    }
                    // The connection changed under us (disconnected, reconnected): read it again.
                }
                Err(ApiError::OAuth { error, description }) if error == "invalid_grant" => {
                    tracing::warn!(
                        administration.id = %administration,
                        oauth.error_description = %description,
                        "AccountView consent is gone; the connection needs a new sign-in"
                    );
                    self.store.accountview_mark_expired(administration).await?;
                    return Err(SyncError::AuthenticationExpired);
                }
                Err(error) => {
                    self.store
                        .accountview_release_refresh(administration, connection.token_version)
                        .await?;
                    return Err(error.into());
                }
            }
        }
    }
}

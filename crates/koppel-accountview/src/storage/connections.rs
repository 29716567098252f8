//! Connections: one per administration (tokens arrive here already encrypted by [`crate::crypto`]),
//! the OAuth states of sign-ins in progress, and the token bookkeeping of the single-flight refresh
//! (a lease claimed by compare-and-set on `token_version`).

use chrono::{DateTime, Utc};
use koppel_domain::{AdministrationId, UserId};
use koppel_store::sql::{AssertSqlSafe, on_pool, on_tx};
use koppel_store::{Result, Store, StoreError};
use serde::Serialize;
use serde_json::Value as Json;

/// Where a connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Connected,
    /// The consent is gone (`invalid_grant`): nothing syncs until the user connects again.
    AuthenticationExpired,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Connected => "connected",
            ConnectionStatus::AuthenticationExpired => "authentication_expired",
        }
    }

    fn parse(text: &str) -> ConnectionStatus {
        if text == "connected" {
            ConnectionStatus::Connected
        } else {
            ConnectionStatus::AuthenticationExpired
        }
    }
}

/// The AccountView administration a connection works with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChosenCompany {
    pub id: String,
    pub code: String,
    pub name: String,
}

/// One administration's AccountView connection. Token fields hold ciphertext.
#[derive(Clone, PartialEq)]
pub struct Connection {
    pub administration: AdministrationId,
    pub status: ConnectionStatus,
    pub connected_by: Option<UserId>,
    pub connected_at: DateTime<Utc>,
    pub access_token: Option<String>,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub refresh_token: Option<String>,
    pub token_version: i64,
    pub refresh_lease_until: Option<DateTime<Utc>>,
    pub company: Option<ChosenCompany>,
    /// Import and export settings as `koppel-accountview` stores them.
    pub settings: Json,
    pub saved_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("administration", &self.administration)
            .field("status", &self.status)
            .field("token_version", &self.token_version)
            .field("company", &self.company)
            .field("saved_at", &self.saved_at)
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct ConnectionRow {
    administration_id: i64,
    status: String,
    connected_by: Option<i64>,
    connected_at: DateTime<Utc>,
    access_token: Option<String>,
    access_expires_at: Option<DateTime<Utc>>,
    refresh_token: Option<String>,
    token_version: i64,
    refresh_lease_until: Option<DateTime<Utc>>,
    company_id: Option<String>,
    company_code: Option<String>,
    company_name: Option<String>,
    settings: String,
    saved_at: Option<DateTime<Utc>>,
}

impl From<ConnectionRow> for Connection {
    fn from(row: ConnectionRow) -> Connection {
        let company = row.company_id.map(|id| ChosenCompany {
            id,
            code: row.company_code.unwrap_or_default(),
            name: row.company_name.unwrap_or_default(),
        });
        Connection {
            administration: AdministrationId(row.administration_id),
            status: ConnectionStatus::parse(&row.status),
            connected_by: row.connected_by.map(UserId),
            connected_at: row.connected_at,
            access_token: row.access_token,
            access_expires_at: row.access_expires_at,
            refresh_token: row.refresh_token,
            token_version: row.token_version,
            refresh_lease_until: row.refresh_lease_until,
            company,
            settings: serde_json::from_str(&row.settings).unwrap_or(Json::Null),
            saved_at: row.saved_at,
        }
    }
}

const CONNECTION_COLUMNS: &str = "administration_id, status, connected_by, connected_at, access_token, \
     access_expires_at, refresh_token, token_version, refresh_lease_until, company_id, company_code, company_name, \
     settings, saved_at";

/// Tokens to store, already encrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredTokens {
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokens")
            .field("access_expires_at", &self.access_expires_at)
            .finish_non_exhaustive()
    }
}

/// A sign-in in progress, as taken (once) from the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthState {
    pub administration: AdministrationId,
    pub user: UserId,
    /// Encrypted PKCE verifier.
    pub code_verifier: String,
    pub expires_at: DateTime<Utc>,
}

/// Remembers a sign-in in progress under the hash of its `state`.
pub async fn create_oauth_state(store: &Store, state_hash: &str, state: &OAuthState) -> Result<()> {
    let now = store.now();
    on_pool!(store.pool(), pool => sqlx::query("DELETE FROM accountview_oauth_states WHERE expires_at < $1")
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    on_pool!(store.pool(), pool => sqlx::query(
        "INSERT INTO accountview_oauth_states (state_hash, administration_id, user_id, code_verifier, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(state_hash)
    .bind(state.administration.0)
    .bind(state.user.0)
    .bind(&state.code_verifier)
    .bind(state.expires_at)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Takes a sign-in's state: it can be taken once, so a replayed callback finds nothing.
pub async fn take_oauth_state(store: &Store, state_hash: &str) -> Result<Option<OAuthState>> {
    let row: Option<(i64, i64, String, DateTime<Utc>)> = on_pool!(store.pool(), pool => sqlx::query_as(
        "DELETE FROM accountview_oauth_states WHERE state_hash = $1 \
         RETURNING administration_id, user_id, code_verifier, expires_at",
    )
    .bind(state_hash)
    .fetch_optional(pool)
    .await)?;
    Ok(row.map(|(administration, user, code_verifier, expires_at)| OAuthState {
        administration: AdministrationId(administration),
        user: UserId(user),
        code_verifier,
        expires_at,
    }))
}

/// The connection of an administration, if there is one.
pub async fn connection(store: &Store, administration: AdministrationId) -> Result<Option<Connection>> {
    let statement = format!("SELECT {CONNECTION_COLUMNS} FROM accountview_connections WHERE administration_id = $1");
    let row: Option<ConnectionRow> = on_pool!(store.pool(), pool => sqlx::query_as(AssertSqlSafe(statement))
        .bind(administration.0)
        .fetch_optional(pool)
        .await)?;
    Ok(row.map(Connection::from))
}

/// Administrations whose connection is live and saved: the ones that sync.
pub async fn active_connections(store: &Store) -> Result<Vec<AdministrationId>> {
    let ids: Vec<i64> = on_pool!(store.pool(), pool => sqlx::query_scalar(
        "SELECT administration_id FROM accountview_connections \
         WHERE status = 'connected' AND saved_at IS NOT NULL ORDER BY administration_id",
    )
    .fetch_all(pool)
    .await)?;
    Ok(ids.into_iter().map(AdministrationId).collect())
}

/// Stores the tokens of a completed sign-in. A connection that exists (expired consent) keeps its
/// company and settings; a new one starts unsaved with `settings`.
pub async fn connect(
    store: &Store,
    administration: AdministrationId,
    user: UserId,
    tokens: &StoredTokens,
    settings: &Json,
) -> Result<Connection> {
    let now = store.now();
    on_pool!(store.pool(), pool => sqlx::query(
        "INSERT INTO accountview_connections (administration_id, status, connected_by, connected_at, access_token, \
         access_expires_at, refresh_token, token_version, settings, updated_at) \
         VALUES ($1, 'connected', $2, $3, $4, $5, $6, 1, $7, $3) \
         ON CONFLICT (administration_id) DO UPDATE SET status = 'connected', connected_by = excluded.connected_by, \
         access_token = excluded.access_token, access_expires_at = excluded.access_expires_at, \
         refresh_token = excluded.refresh_token, token_version = accountview_connections.token_version + 1, \
         refresh_lease_until = NULL, updated_at = excluded.updated_at",
    )
    .bind(administration.0)
    .bind(user.0)
    .bind(now)
    .bind(&tokens.access_token)
    .bind(tokens.access_expires_at)
    .bind(&tokens.refresh_token)
    .bind(settings.to_string())
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    connection(store, administration).await?.ok_or(StoreError::NotFound)
}

/// Saves the chosen company and the settings. The company is locked once saved: choosing another
/// one needs a disconnect first.
pub async fn save(
    store: &Store,
    administration: AdministrationId,
    company: &ChosenCompany,
    settings: &Json,
) -> Result<Connection> {
    let mut tx = store.begin().await?;
    let now = tx.now;
    let current: Option<(Option<String>, Option<DateTime<Utc>>)> = on_tx!(tx, conn => sqlx::query_as(
        "SELECT company_id, saved_at FROM accountview_connections WHERE administration_id = $1",
    )
    .bind(administration.0)
    .fetch_optional(conn)
    .await)?;
    let Some((current_company, saved_at)) = current else {
        return Err(StoreError::NotFound);
    };
    if saved_at.is_some() && current_company.as_deref() != Some(company.id.as_str()) {
        return Err(StoreError::conflict(
            "company_locked",
            "the AccountView administration cannot be changed; disconnect first",
        ));
    }
    on_tx!(tx, conn => sqlx::query(
        "UPDATE accountview_connections SET company_id = $2, company_code = $3, company_name = $4, settings = $5, \
         saved_at = $6, updated_at = $6 WHERE administration_id = $1",
    )
    .bind(administration.0)
    .bind(&company.id)
    .bind(&company.code)
    .bind(&company.name)
    .bind(settings.to_string())
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    tx.commit().await?;
    connection(store, administration).await?.ok_or(StoreError::NotFound)
}

/// Deletes the connection with its tokens and cursors. Imported data, code lists and the export
/// ledger stay. Returns whether there was a connection.
pub async fn disconnect(store: &Store, administration: AdministrationId) -> Result<bool> {
    let mut tx = store.begin().await?;
    let deleted = on_tx!(tx, conn => sqlx::query("DELETE FROM accountview_connections WHERE administration_id = $1")
        .bind(administration.0)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    on_tx!(tx, conn => sqlx::query("DELETE FROM accountview_cursors WHERE administration_id = $1")
        .bind(administration.0)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(deleted > 0)
}

/// Claims the right to refresh the tokens of `token_version` until `lease_until`, by
/// compare-and-set: of several nodes that try at once, one gets `true`.
pub async fn claim_refresh(
    store: &Store,
    administration: AdministrationId,
    token_version: i64,
    lease_until: DateTime<Utc>,
) -> Result<bool> {
    let now = store.now();
    let claimed = on_pool!(store.pool(), pool => sqlx::query(
        "UPDATE accountview_connections SET refresh_lease_until = $3 WHERE administration_id = $1 \
         AND token_version = $2 AND status = 'connected' \
         AND (refresh_lease_until IS NULL OR refresh_lease_until < $4)",
    )
    .bind(administration.0)
    .bind(token_version)
    .bind(lease_until)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(claimed == 1)
}

/// Stores refreshed tokens, only over `token_version`; releases the lease. Returns whether they
/// were stored.
pub async fn store_refreshed(
    store: &Store,
    administration: AdministrationId,
    token_version: i64,
    tokens: &StoredTokens,
) -> Result<bool> {
    let now = store.now();
    let stored = on_pool!(store.pool(), pool => sqlx::query(
        "UPDATE accountview_connections SET access_token = $3, access_expires_at = $4, refresh_token = $5, \
         token_version = token_version + 1, refresh_lease_until = NULL, updated_at = $6 \
         WHERE administration_id = $1 AND token_version = $2",
    )
    .bind(administration.0)
    .bind(token_version)
    .bind(&tokens.access_token)
    .bind(tokens.access_expires_at)
    .bind(&tokens.refresh_token)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(stored == 1)
}

/// Gives up a refresh lease without new tokens (the token endpoint could not be reached).
pub async fn release_refresh(store: &Store, administration: AdministrationId, token_version: i64) -> Result<()> {
    on_pool!(store.pool(), pool => sqlx::query(
        "UPDATE accountview_connections SET refresh_lease_until = NULL WHERE administration_id = $1 AND token_version = $2",
    )
    .bind(administration.0)
    .bind(token_version)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Marks the access token of `token_version` as expired (AccountView answered 401).
pub async fn expire_access(store: &Store, administration: AdministrationId, token_version: i64) -> Result<()> {
    let past = store.now() - chrono::Duration::seconds(1);
    on_pool!(store.pool(), pool => sqlx::query(
        "UPDATE accountview_connections SET access_expires_at = $3 WHERE administration_id = $1 AND token_version = $2",
    )
    .bind(administration.0)
    .bind(token_version)
    .bind(past)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The consent is gone: tokens are deleted and the connection waits for a new sign-in.
pub async fn mark_expired(store: &Store, administration: AdministrationId) -> Result<()> {
    let now = store.now();
    on_pool!(store.pool(), pool => sqlx::query(
        "UPDATE accountview_connections SET status = 'authentication_expired', access_token = NULL, \
         access_expires_at = NULL, refresh_token = NULL, refresh_lease_until = NULL, \
         token_version = token_version + 1, updated_at = $2 WHERE administration_id = $1",
    )
    .bind(administration.0)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

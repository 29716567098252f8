//! Feed tokens: the passwords Power BI logs in to the feed with (HTTP Basic, the feed name as user
//! name). A token's secret is shown once; only its SHA-256 is kept.

use base64::Engine;
use chrono::{DateTime, Utc};
use koppel_domain::licence::PowerUp;
use koppel_domain::{AdministrationId, UserId};
use koppel_store::platform::hash_secret;
use koppel_store::sql::on_pool;
use koppel_store::{Result, Store, StoreError};
use rand::RngCore;

/// A feed token's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct FeedTokenId(pub i64);

impl std::fmt::Display for FeedTokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A feed token as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedToken {
    pub id: FeedTokenId,
    pub administration_id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<i64>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What checking a feed token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedTokenCheck {
    /// No token has this secret.
    Unknown,
    /// The token was revoked at this time.
    Revoked { administration: AdministrationId },
    /// The token is valid for this administration.
    Valid { administration: AdministrationId },
}

/// A feed token's id, administration, last use and revocation.
type TokenRow = (i64, i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A new secret (`kpf_` and 256 random bits) and the hash that is stored of it.
fn new_feed_secret() -> (String, String) {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("kpf_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_secret(&secret);
    (secret, hash)
}

/// Creates a feed token; the secret is returned once and only its hash is kept.
pub async fn create(
    store: &Store,
    administration: AdministrationId,
    name: &str,
    by: Option<UserId>,
) -> Result<(FeedToken, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(StoreError::invalid(
            "name",
            "invalid",
            "name must have 1 to 100 characters",
        ));
    }
    let (secret, hash) = new_feed_secret();
    let now = store.now();
    let token: FeedToken = on_pool!(store.pool(), pool => sqlx::query_as(
        "INSERT INTO datasync_feed_tokens (administration_id, name, token_hash, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, administration_id, name, created_at, created_by, last_used_at, revoked_at",
    )
    .bind(administration.0)
    .bind(name.to_string())
    .bind(hash)
    .bind(now)
    .bind(by.map(|u| u.0))
    .fetch_one(pool)
    .await)?;
    Ok((token, secret))
}

/// The administration's feed tokens, oldest first, without their secrets.
pub async fn list(store: &Store, administration: AdministrationId) -> Result<Vec<FeedToken>> {
    Ok(on_pool!(store.pool(), pool => sqlx::query_as(
        "SELECT id, administration_id, name, created_at, created_by, last_used_at, revoked_at \
         FROM datasync_feed_tokens WHERE administration_id = $1 ORDER BY id",
    )
    .bind(administration.0)
    .fetch_all(pool)
    .await)?)
}

/// Revokes an active token of the administration; `NotFound` when there is none with this id.
pub async fn revoke(store: &Store, administration: AdministrationId, token: FeedTokenId) -> Result<()> {
    let now = store.now();
    let changed = on_pool!(store.pool(), pool => sqlx::query(
        "UPDATE datasync_feed_tokens SET revoked_at = $3 WHERE id = $2 AND administration_id = $1 AND revoked_at IS NULL",
    )
    .bind(administration.0)
    .bind(token.0)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Checks a feed token's secret. Last-used is written at most once a minute per token.
pub async fn check(store: &Store, secret: &str) -> Result<FeedTokenCheck> {
    let row: Option<TokenRow> = on_pool!(store.pool(), pool => sqlx::query_as(
        "SELECT id, administration_id, last_used_at, revoked_at FROM datasync_feed_tokens WHERE token_hash = $1",
    )
    .bind(hash_secret(secret))
    .fetch_optional(pool)
    .await)?;
    let Some((id, administration, last_used_at, revoked_at)) = row else {
        return Ok(FeedTokenCheck::Unknown);
    };
    let administration = AdministrationId(administration);
    if revoked_at.is_some() {
        return Ok(FeedTokenCheck::Revoked { administration });
    }
    let now = store.now();
    if last_used_at.is_none_or(|at| now - at > chrono::Duration::minutes(1)) {
        on_pool!(store.pool(), pool => sqlx::query("UPDATE datasync_feed_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(FeedTokenCheck::Valid { administration })
}

/// Why a reader may not read an administration's feed.
#[derive(Debug, thiserror::Error)]
pub enum FeedAccessError {
    /// The token was revoked.
    #[error("this feed token has been revoked")]
    Revoked,
    /// No token has this secret, or it belongs to another administration's feed.
    #[error("the feed token is not valid for this feed")]
    NotValid,
    /// The administration was deleted; its feed is closed.
    #[error("the administration of this feed has been deleted")]
    AdministrationDeleted,
    /// Reading failed, or the Power BI licence is not active (`StoreError::Licence`).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks that `secret` opens the feed of `administration`: a valid token of that administration,
/// which still exists and has an active Power BI licence.
pub async fn authorise_reader(
    store: &Store,
    administration: AdministrationId,
    secret: &str,
) -> Result<(), FeedAccessError> {
    match check(store, secret).await? {
        FeedTokenCheck::Valid { administration: owner } if owner == administration => {}
        FeedTokenCheck::Revoked { administration: owner } if owner == administration => {
            return Err(FeedAccessError::Revoked);
        }
        _ => return Err(FeedAccessError::NotValid),
    }
    let found = match store.administration(administration).await {
        Ok(found) => found,
        Err(StoreError::NotFound) => return Err(FeedAccessError::AdministrationDeleted),
        Err(other) => return Err(other.into()),
    };
    store.require_licence(found.environment_id, PowerUp::PowerBi).await?;
    Ok(())
}

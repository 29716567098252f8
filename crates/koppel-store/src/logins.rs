//! Counters of failed logins for the login throttle (the policy is `koppel_web::auth::LoginLimiter`):
//! one row per key (an e-mail address, a client address, or the pair), in the database so the
//! counts survive a restart and every node sees the same ones. Keys are stored as SHA-256 hashes.

use crate::platform::hash_secret;
use crate::sql::on_pool;
use crate::{Result, Store};
use chrono::{DateTime, Utc};

/// Failed logins under one key since it was last forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub failures: i64,
    pub last_failure_at: DateTime<Utc>,
}

impl Store {
    /// The failures recorded under each key (in the order given), not counting those whose last
    /// failure is before `forget_before`.
    pub async fn login_failures(
        &self,
        keys: &[String],
        forget_before: DateTime<Utc>,
    ) -> Result<Vec<Option<LoginFailures>>> {
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            let row: Option<(i64, DateTime<Utc>)> = on_pool!(self.pool(), pool => sqlx::query_as(
                "SELECT failures, last_failure_at FROM login_attempts WHERE key_hash = $1 AND last_failure_at >= $2",
            )
            .bind(hash_secret(key))
            .bind(forget_before)
            .fetch_optional(pool)
            .await)?;
            found.push(row.map(|(failures, last_failure_at)| LoginFailures {
                failures,
                last_failure_at,
            }));
        }
        Ok(found)
    }

    /// Counts one failed login under every key (a count whose last failure is before
    /// `forget_before` starts again at one), and forgets keys that have been quiet since then.
    pub async fn record_login_failure(&self, keys: &[String], forget_before: DateTime<Utc>) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin().await?;
        for key in keys {
            crate::sql::on_tx!(tx, conn => sqlx::query(
                "INSERT INTO login_attempts (key_hash, failures, last_failure_at) VALUES ($1, 1, $2) \
                 ON CONFLICT (key_hash) DO UPDATE SET failures = CASE WHEN login_attempts.last_failure_at < $3 \
                 THEN 1 ELSE login_attempts.failures + 1 END, last_failure_at = $2",
            )
            .bind(hash_secret(key))
            .bind(now)
            .bind(forget_before)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
        crate::sql::on_tx!(tx, conn => sqlx::query("DELETE FROM login_attempts WHERE last_failure_at < $1")
            .bind(forget_before)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the failures under these keys (after a successful login).
    pub async fn clear_login_failures(&self, keys: &[String]) -> Result<()> {
        for key in keys {
            on_pool!(self.pool(), pool => sqlx::query("DELETE FROM login_attempts WHERE key_hash = $1")
                .bind(hash_secret(key))
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }
}

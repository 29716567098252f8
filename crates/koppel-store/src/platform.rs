//! The platform around the features: environments, administrations, the Licence Manager, users and
//! their rights, API tokens, login sessions and the audit log.

use crate::sql::{TxInner, on_pool, on_tx};
use crate::{Result, Store, StoreError, Tx};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use koppel_domain::licence::{self, LicenceError, LicenceState, PowerUp};
use koppel_domain::rights::{Right, Rights};
use koppel_domain::{AdministrationId, EnvironmentId, UserId, resources};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::AssertSqlSafe;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Administration {
    #[sqlx(try_from = "i64")]
    pub id: AdministrationId,
    #[sqlx(try_from = "i64")]
    pub environment_id: EnvironmentId,
    pub name: String,
    pub is_main: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Licence {
    pub power_up: PowerUp,
    pub state: LicenceState,
    /// Only meaningful for `sub_administrations`: how many subs may exist.
    pub capacity: i64,
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    #[sqlx(try_from = "i64")]
    pub id: UserId,
    #[sqlx(try_from = "i64")]
    pub environment_id: EnvironmentId,
    pub email: String,
    pub name: String,
    pub language: String,
    pub created_at: DateTime<Utc>,
}

/// A user's access to one administration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub administration: Administration,
    pub rights: Rights,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiToken {
    pub id: i64,
    #[sqlx(try_from = "i64")]
    pub user_id: UserId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub environment_id: i64,
    pub administration_id: Option<i64>,
    pub user_id: Option<i64>,
    pub action: String,
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// Who performs an administrative action, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor(pub Option<UserId>);

impl Actor {
    pub const SYSTEM: Actor = Actor(None);
}

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub environment: EnvironmentId,
    pub email: &'a str,
    pub name: &'a str,
    pub password: &'a str,
    pub language: &'a str,
}

/// A new administration.
#[derive(Debug, Clone)]
pub struct NewAdministration<'a> {
    pub environment: EnvironmentId,
    pub name: &'a str,
    pub is_main: bool,
}

pub const MIN_PASSWORD_LEN: usize = 10;

/// Makes a high-entropy secret and the hash that is stored for it.
fn new_secret(prefix: &str) -> (String, String) {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash_secret(&secret);
    (secret, hash)
}

/// Tokens and session ids are random 256-bit values, so a plain SHA-256 is enough to store them.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn check_name(field: &str, name: &str, max_len: usize) -> Result<String> {
    koppel_domain::record::check_characters(field, name, false).map_err(|e| StoreError::Invalid(vec![e]))?;
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(StoreError::invalid(
            field,
            "required",
            format!("{field} may not be empty"),
        ));
    }
    if trimmed.chars().count() > max_len {
        return Err(StoreError::invalid(
            field,
            "too_long",
            format!("{field} may be at most {max_len} characters long"),
        ));
    }
    Ok(trimmed.to_string())
}

impl Tx {
    /// Records an administrative action in the same transaction as the action itself.
    pub async fn audit(
        &mut self,
        environment: EnvironmentId,
        administration: Option<AdministrationId>,
        actor: Actor,
        action: &str,
        detail: &str,
    ) -> Result<()> {
        let now = self.now;
        on_tx!(self, conn => sqlx::query(
            "INSERT INTO audit_log (environment_id, administration_id, user_id, action, detail, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(environment.0)
        .bind(administration.map(|a| a.0))
        .bind(actor.0.map(|u| u.0))
        .bind(action.to_string())
        .bind(detail.to_string())
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn licence(&mut self, environment: EnvironmentId, power_up: PowerUp) -> Result<Licence> {
        let row: Option<(String, Option<NaiveDate>, i64, DateTime<Utc>)> = on_tx!(self, conn => sqlx::query_as(
            "SELECT state, trial_until, capacity, changed_at FROM licences WHERE environment_id = $1 AND power_up = $2",
        )
        .bind(environment.0)
        .bind(power_up.as_str())
        .fetch_optional(conn)
        .await)?;
        let (state, trial_until, capacity, changed_at) = row.ok_or(StoreError::NotFound)?;
        Ok(Licence {
            power_up,
            state: parse_state(&state, trial_until),
            capacity,
            changed_at,
        })
    }
}

fn parse_state(state: &str, trial_until: Option<NaiveDate>) -> LicenceState {
    match (state, trial_until) {
        ("active", _) => LicenceState::Active,
        ("trial", Some(until)) => LicenceState::Trial { until },
        _ => LicenceState::Inactive,
    }
}

impl Store {
    /// The environment with exactly this name, if there is one; loaders use it to refuse seeding the
    /// same environment twice.
    pub async fn environment_named(&self, name: &str) -> Result<Option<EnvironmentId>> {
        let id: Option<i64> = on_pool!(self.pool(), pool => sqlx::query_scalar(
            "SELECT id FROM environments WHERE name = $1 ORDER BY id LIMIT 1",
        )
        .bind(name.to_string())
        .fetch_optional(pool)
        .await)?;
        Ok(id.map(EnvironmentId))
    }

    /// Creates an environment with every power-up inactive.
    pub async fn create_environment(&self, name: &str) -> Result<EnvironmentId> {
        let name = check_name("name", name, 200)?;
        let mut tx = self.begin().await?;
        let now = tx.now;
        let id: i64 = on_tx!(tx, conn => sqlx::query_scalar(
            "INSERT INTO environments (name, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(name)
        .bind(now)
        .fetch_one(conn)
        .await)?;
        for power_up in PowerUp::ALL {
            on_tx!(tx, conn => sqlx::query(
                "INSERT INTO licences (environment_id, power_up, state, capacity, changed_at) VALUES ($1, $2, 'inactive', 0, $3)",
            )
            .bind(id)
            .bind(power_up.as_str())
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(EnvironmentId(id))
    }

    /// Creates the main administration or a sub. A sub needs a usable sub-administrations licence
    /// with room left; an environment has exactly one main.
    pub async fn create_administration(&self, new: NewAdministration<'_>, actor: Actor) -> Result<Administration> {
        let name = check_name("name", new.name, 100)?;
        let today = self.now().date_naive();
        let mut tx = self.begin().await?;
        // Lock the environment first, so that concurrent creations count its administrations one after
        // the other; otherwise two on PostgreSQL could both see room for one more sub and exceed the
        // licensed capacity. (SQLite's BEGIN IMMEDIATE serialises them already.)
        let environment_found = on_tx!(tx, conn => sqlx::query("UPDATE environments SET name = name WHERE id = $1")
            .bind(new.environment.0)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        if environment_found == 0 {
            return Err(StoreError::NotFound);
        }
        let mains: i64 = on_tx!(tx, conn => sqlx::query_scalar(
            "SELECT COUNT(*) FROM administrations WHERE environment_id = $1 AND is_main",
        )
        .bind(new.environment.0)
        .fetch_one(conn)
        .await)?;
        if new.is_main && mains > 0 {
            return Err(StoreError::conflict(
                "main_exists",
                "this environment already has a main administration",
            ));
        }
        if !new.is_main {
            if mains == 0 {
                return Err(StoreError::conflict("no_main", "create the main administration first"));
            }
            let licence = tx.licence(new.environment, PowerUp::SubAdministrations).await?;
            licence::require(PowerUp::SubAdministrations, licence.state, today)?;
            let subs: i64 = on_tx!(tx, conn => sqlx::query_scalar(
                "SELECT COUNT(*) FROM administrations WHERE environment_id = $1 AND NOT is_main",
            )
            .bind(new.environment.0)
            .fetch_one(conn)
            .await)?;
            if subs >= licence.capacity {
                return Err(LicenceError::CapacityReached {
                    capacity: licence.capacity,
                }
                .into());
            }
        }
        let now = tx.now;
        let administration: Administration = on_tx!(tx, conn => sqlx::query_as(
            "INSERT INTO administrations (environment_id, name, is_main, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id, environment_id, name, is_main, created_at",
        )
        .bind(new.environment.0)
        .bind(name.clone())
        .bind(new.is_main)
        .bind(now)
        .fetch_one(conn)
        .await)
        .map_err(|e| crate::map_unique(e, || format!("an administration named {name} already exists")))?;
        on_tx!(tx, conn => sqlx::query("INSERT INTO change_counters (administration_id, position) VALUES ($1, 0)")
            .bind(administration.id.0)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        let action = if new.is_main {
            "administration.create_main"
        } else {
            "administration.create_sub"
        };
        tx.audit(
            new.environment,
            Some(administration.id),
            actor,
            action,
            &administration.name,
        )
        .await?;
        tx.commit().await?;
        Ok(administration)
    }

    pub async fn administrations(&self, environment: EnvironmentId) -> Result<Vec<Administration>> {
        Ok(on_pool!(self.pool(), pool => sqlx::query_as(
            "SELECT id, environment_id, name, is_main, created_at FROM administrations \
             WHERE environment_id = $1 ORDER BY is_main DESC, name, id",
        )
        .bind(environment.0)
        .fetch_all(pool)
        .await)?)
    }

    pub async fn administration(&self, id: AdministrationId) -> Result<Administration> {
        let found: Option<Administration> = on_pool!(self.pool(), pool => sqlx::query_as(
            "SELECT id, environment_id, name, is_main, created_at FROM administrations WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(pool)
        .await)?;
        found.ok_or(StoreError::NotFound)
    }

    /// Deletes a sub-administration and all of its data, permanently. The main cannot be deleted.
    pub async fn delete_administration(&self, id: AdministrationId, actor: Actor) -> Result<()> {
        let administration = self.administration(id).await?;
        if administration.is_main {
            return Err(StoreError::conflict(
                "main_cannot_be_deleted",
                "the main administration cannot be deleted",
            ));
        }
        let mut tx = self.begin().await?;
        // Lock the counter first so no write to this administration is in flight while it goes. When the
        // row is gone, a concurrent deletion got there first: report that instead of auditing twice.
        let locked = on_tx!(tx, conn => sqlx::query("UPDATE change_counters SET position = position + 1 WHERE administration_id = $1")
            .bind(id.0)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        if locked == 0 {
            return Err(StoreError::NotFound);
        }
        let mut tables: Vec<&str> = resources::ALL.iter().rev().map(|spec| spec.table).collect();
        // Background work goes with it: run items before their runs, and schedules so nothing is
        // enqueued for the administration again.
        tables.extend(["run_items", "runs", "jobs", "schedules"]);
        // Tables that name an administration without a foreign key hold what features derive for it
        // (Data Sync's reporting copy, its state, history and feed tokens): they go with it too.
        let derived = derived_tables(&mut tx).await?;
        tables.extend(derived.iter().map(String::as_str));
        // The AccountView connection, its imported code lists, cursors and export ledger.
        tables.extend([
            "accountview_connections",
            "accountview_oauth_states",
            "accountview_vat_codes",
            "accountview_ledger_accounts",
            "accountview_journals",
            "accountview_cost_centres",
            "accountview_article_groups",
            "accountview_cursors",
            "accountview_exports",
        ]);
        tables.extend(["tombstones", "number_sequences", "memberships", "change_counters"]);
        for table in tables {
            let statement = format!("DELETE FROM {table} WHERE administration_id = $1");
            on_tx!(tx, conn => sqlx::query(AssertSqlSafe(statement)).bind(id.0).execute(conn).await.map(|r| r.rows_affected()))?;
        }
        on_tx!(tx, conn => sqlx::query("DELETE FROM settings_sync_targets WHERE target_id = $1")
            .bind(id.0)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        on_tx!(tx, conn => sqlx::query("DELETE FROM administrations WHERE id = $1").bind(id.0).execute(conn).await.map(|r| r.rows_affected()))?;
        tx.audit(
            administration.environment_id,
            Some(id),
            actor,
            "administration.delete_sub",
            &administration.name,
        )
        .await?;
        tx.commit().await
    }

    pub async fn licences(&self, environment: EnvironmentId) -> Result<Vec<Licence>> {
        let mut tx = self.snapshot().await?;
        let mut licences = Vec::new();
        for power_up in PowerUp::ALL {
            licences.push(tx.licence(environment, power_up).await?);
        }
        tx.rollback().await?;
        Ok(licences)
    }

    /// Sets a power-up's state (and, for sub-administrations, its capacity). Nothing is deleted when
    /// a licence lapses.
    pub async fn set_licence(
        &self,
        environment: EnvironmentId,
        power_up: PowerUp,
        state: LicenceState,
        capacity: i64,
        actor: Actor,
    ) -> Result<Licence> {
        if !(0..=1000).contains(&capacity) {
            return Err(StoreError::invalid(
                "capacity",
                "invalid",
                "capacity must be between 0 and 1000",
            ));
        }
        let trial_until = match state {
            LicenceState::Trial { until } => Some(until),
            _ => None,
        };
        let mut tx = self.begin().await?;
        let now = tx.now;
        let updated = on_tx!(tx, conn => sqlx::query(
            "UPDATE licences SET state = $3, trial_until = $4, capacity = $5, changed_at = $6 \
             WHERE environment_id = $1 AND power_up = $2",
        )
        .bind(environment.0)
        .bind(power_up.as_str())
        .bind(state.kind())
        .bind(trial_until)
        .bind(capacity)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        let detail = format!("{} {} capacity {capacity}", power_up.as_str(), state.kind());
        tx.audit(environment, None, actor, "licence.set", &detail).await?;
        let licence = tx.licence(environment, power_up).await?;
        tx.commit().await?;
        Ok(licence)
    }

    /// Fails with the reason when a power-up cannot be used today.
    pub async fn require_licence(&self, environment: EnvironmentId, power_up: PowerUp) -> Result<()> {
        let mut tx = self.snapshot().await?;
        let licence = tx.licence(environment, power_up).await?;
        tx.rollback().await?;
        licence::require(power_up, licence.state, self.now().date_naive())?;
        Ok(())
    }

    /// Creates a user with an argon2 password hash.
    pub async fn create_user(&self, new: NewUser<'_>) -> Result<User> {
        let email = new.email.trim().to_lowercase();
        if !email.contains('@') || email.len() > 254 || email.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(StoreError::invalid("email", "invalid", "enter a valid e-mail address"));
        }
        if new.password.contains('\0') {
            return Err(StoreError::invalid(
                "password",
                "invalid_character",
                "a password may not contain the NUL character (U+0000)",
            ));
        }
        let name = check_name("name", new.name, 200)?;
        if new.password.chars().count() < MIN_PASSWORD_LEN {
            return Err(StoreError::invalid(
                "password",
                "too_short",
                format!("a password needs at least {MIN_PASSWORD_LEN} characters"),
            ));
        }
        if !matches!(new.language, "nl" | "en") {
            return Err(StoreError::invalid("language", "invalid", "language must be nl or en"));
        }
        let password_hash = hash_password(new.password.to_string()).await?;
        let now = self.now();
        let user: User = on_pool!(self.pool(), pool => sqlx::query_as(
            "INSERT INTO users (environment_id, email, name, password_hash, language, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, environment_id, email, name, language, created_at",
        )
        .bind(new.environment.0)
        .bind(email)
        .bind(name)
        .bind(password_hash)
        .bind(new.language.to_string())
        .bind(now)
        .fetch_one(pool)
        .await)
        .map_err(|e| crate::map_unique(e, || "a user with this e-mail address already exists".into()))?;
        Ok(user)
    }

    /// The user with this e-mail address and password, if both match.
    pub async fn authenticate_password(&self, email: &str, password: &str) -> Result<Option<User>> {
        let email = email.trim().to_lowercase();
        // No stored address holds a control character (see create_user), and PostgreSQL cannot even
        // be asked about one with a NUL: such an address belongs to nobody.
        let row: Option<(i64, String)> = if email.chars().any(char::is_control) {
            None
        } else {
            on_pool!(self.pool(), pool => sqlx::query_as(
                "SELECT id, password_hash FROM users WHERE email = $1",
            )
            .bind(email)
            .fetch_optional(pool)
            .await)?
        };
        // Verify against a fixed hash when the user is unknown, so timing does not reveal who exists.
        let (id, stored) = row.unwrap_or((0, UNKNOWN_USER_HASH.to_string()));
        let password = password.to_string();
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&stored)
                .map(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if matches && id != 0 {
            self.user(UserId(id)).await.map(Some)
        } else {
            Ok(None)
        }
    }

    pub async fn user(&self, id: UserId) -> Result<User> {
        let found: Option<User> = on_pool!(self.pool(), pool => sqlx::query_as(
            "SELECT id, environment_id, email, name, language, created_at FROM users WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(pool)
        .await)?;
        found.ok_or(StoreError::NotFound)
    }

    pub async fn users(&self, environment: EnvironmentId) -> Result<Vec<User>> {
        Ok(on_pool!(self.pool(), pool => sqlx::query_as(
            "SELECT id, environment_id, email, name, language, created_at FROM users WHERE environment_id = $1 ORDER BY name, id",
        )
        .bind(environment.0)
        .fetch_all(pool)
        .await)?)
    }

    pub async fn set_user_language(&self, user: UserId, language: &str) -> Result<()> {
        if !matches!(language, "nl" | "en") {
            return Err(StoreError::invalid("language", "invalid", "language must be nl or en"));
        }
        on_pool!(self.pool(), pool => sqlx::query("UPDATE users SET language = $2 WHERE id = $1")
            .bind(user.0)
            .bind(language.to_string())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Grants exactly these rights on an administration; no rights removes access altogether.
    pub async fn set_rights(
        &self,
        user: UserId,
        administration: AdministrationId,
        rights: Rights,
        actor: Actor,
    ) -> Result<()> {
        let target_user = self.user(user).await?;
        let target_administration = self.administration(administration).await?;
        if target_user.environment_id != target_administration.environment_id {
            return Err(StoreError::NotFound);
        }
        let environment = target_administration.environment_id;
        let mut tx = self.begin().await?;
        // Changes of rights in one environment take turns (SQLite's BEGIN IMMEDIATE serialises them
        // anyway; on PostgreSQL this row lock does), so two managers removing each other at once
        // cannot both pass the check below.
        on_tx!(tx, conn => sqlx::query("UPDATE environments SET name = name WHERE id = $1")
            .bind(environment.0)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        let held: Option<i64> = on_tx!(tx, conn => sqlx::query_scalar(
            "SELECT rights FROM memberships WHERE user_id = $1 AND administration_id = $2",
        )
        .bind(user.0)
        .bind(administration.0)
        .fetch_optional(conn)
        .await)?;
        let had_manage_right = held.is_some_and(|bits| Rights::from_bits(bits).has(Right::ManageAdministrations));
        if rights == Rights::default() {
            on_tx!(tx, conn => sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND administration_id = $2")
                .bind(user.0)
                .bind(administration.0)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
        } else {
            on_tx!(tx, conn => sqlx::query(
                "INSERT INTO memberships (user_id, administration_id, rights) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, administration_id) DO UPDATE SET rights = excluded.rights",
            )
            .bind(user.0)
            .bind(administration.0)
            .bind(rights.bits())
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
        // Someone must be left who can manage users, licences and administrations: the
        // `manage_administrations` right on the main administration (what the pages and the API ask).
        // Checked after the write, in its transaction: when the target held the right before and
        // nobody holds it now, the change is undone. (An environment that never had a manager, while
        // it is being set up, is not made worse by any change.)
        if target_administration.is_main && had_manage_right && !rights.has(Right::ManageAdministrations) {
            let managers: i64 = on_tx!(tx, conn => sqlx::query_scalar(
                "SELECT COUNT(*) FROM memberships WHERE administration_id = $1 AND (rights & $2) <> 0",
            )
            .bind(administration.0)
            .bind(Rights::default().with(Right::ManageAdministrations).bits())
            .fetch_one(conn)
            .await)?;
            if managers == 0 {
                tx.rollback().await?;
                return Err(StoreError::conflict(
                    "last_manager",
                    format!(
                        "{} is the last user who may manage users, licences and administrations \
                         (manage_administrations on the main administration); give another user that right first",
                        target_user.email
                    ),
                ));
            }
        }
        let names: Vec<&str> = rights.iter().map(|r| r.as_str()).collect();
        let detail = format!(
            "{} ({}): {}",
            target_user.email,
            user,
            if names.is_empty() {
                "no access".to_string()
            } else {
                names.join(", ")
            }
        );
        tx.audit(
            target_administration.environment_id,
            Some(administration),
            actor,
            "rights.set",
            &detail,
        )
        .await?;
        tx.commit().await
    }

    /// The user's rights on an administration; `None` when the user has no access.
    pub async fn rights(&self, user: UserId, administration: AdministrationId) -> Result<Option<Rights>> {
        let bits: Option<i64> = on_pool!(self.pool(), pool => sqlx::query_scalar(
            "SELECT rights FROM memberships WHERE user_id = $1 AND administration_id = $2",
        )
        .bind(user.0)
        .bind(administration.0)
        .fetch_optional(pool)
        .await)?;
        Ok(bits.map(Rights::from_bits))
    }

    /// The administrations a user may access, main first.
    pub async fn memberships(&self, user: UserId) -> Result<Vec<Membership>> {
        let rows: Vec<(i64, i64, String, bool, DateTime<Utc>, i64)> = on_pool!(self.pool(), pool => sqlx::query_as(
            "SELECT a.id, a.environment_id, a.name, a.is_main, a.created_at, m.rights \
             FROM memberships m JOIN administrations a ON a.id = m.administration_id \
             WHERE m.user_id = $1 ORDER BY a.is_main DESC, a.name, a.id",
        )
        .bind(user.0)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(id, environment_id, name, is_main, created_at, rights)| Membership {
                administration: Administration {
                    id: AdministrationId(id),
                    environment_id: EnvironmentId(environment_id),
                    name,
                    is_main,
                    created_at,
                },
                rights: Rights::from_bits(rights),
            })
            .collect())
    }

    /// Creates an API token; the secret is returned once and only its hash is kept.
    pub async fn create_api_token(&self, user: UserId, name: &str) -> Result<(ApiToken, String)> {
        let name = check_name("name", name, 100)?;
        let (secret, hash) = new_secret("kpl_");
        let now = self.now();
        let token: ApiToken = on_pool!(self.pool(), pool => sqlx::query_as(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id, user_id, name, created_at, last_used_at, revoked_at",
        )
        .bind(user.0)
        .bind(name)
        .bind(hash)
        .bind(now)
        .fetch_one(pool)
        .await)?;
        Ok((token, secret))
    }

    pub async fn api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>> {
        Ok(on_pool!(self.pool(), pool => sqlx::query_as(
            "SELECT id, user_id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY id",
        )
        .bind(user.0)
        .fetch_all(pool)
        .await)?)
    }

    pub async fn revoke_api_token(&self, user: UserId, token: i64) -> Result<()> {
        let now = self.now();
        let result = on_pool!(self.pool(), pool => sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(token)
        .bind(user.0)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        if result == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// The user behind a bearer token. Last-used is written at most once a minute per token, so a
    /// busy integration does not turn every read into a write.
    pub async fn authenticate_api_token(&self, secret: &str) -> Result<Option<UserId>> {
        let row: Option<(i64, i64, Option<DateTime<Utc>>)> = on_pool!(self.pool(), pool => sqlx::query_as(
            "SELECT id, user_id, last_used_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash_secret(secret))
        .fetch_optional(pool)
        .await)?;
        let Some((id, user, last_used_at)) = row else {
            return Ok(None);
        };
        let now = self.now();
        if last_used_at.is_none_or(|at| now - at > chrono::Duration::minutes(1)) {
            on_pool!(self.pool(), pool => sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(Some(UserId(user)))
    }

    /// Starts a login session; returns the secret for the cookie.
    pub async fn create_session(&self, user: UserId, lifetime: chrono::Duration) -> Result<String> {
        let (secret, hash) = new_secret("");
        let now = self.now();
        on_pool!(self.pool(), pool => sqlx::query(
            "INSERT INTO sessions (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(user.0)
        .bind(hash)
        .bind(now)
        .bind(now + lifetime)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(secret)
    }

    pub async fn session_user(&self, secret: &str) -> Result<Option<UserId>> {
        let now = self.now();
        let user: Option<i64> = on_pool!(self.pool(), pool => sqlx::query_scalar(
            "SELECT user_id FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(hash_secret(secret))
        .bind(now)
        .fetch_optional(pool)
        .await)?;
        Ok(user.map(UserId))
    }

    pub async fn delete_session(&self, secret: &str) -> Result<()> {
        on_pool!(self.pool(), pool => sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash_secret(secret))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The audit log of an environment, newest first, before entry `before` when paging.
    pub async fn audit_log(
        &self,
        environment: EnvironmentId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        Ok(on_pool!(self.pool(), pool => sqlx::query_as(
            "SELECT id, environment_id, administration_id, user_id, action, detail, at FROM audit_log \
             WHERE environment_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(environment.0)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?)
    }

    /// Records an administrative action on its own.
    pub async fn record_audit(
        &self,
        environment: EnvironmentId,
        administration: Option<AdministrationId>,
        actor: Actor,
        action: &str,
        detail: &str,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.audit(environment, administration, actor, action, detail).await?;
        tx.commit().await
    }
}

/// A valid argon2 hash of a random password nobody knows.
const UNKNOWN_USER_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2vM8a2bqiNEkmOVZp0ZhbmRYQ4tq8d0p1z0y5g8b7xU";

async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt_bytes = [0_u8; 16];
        rand::rng().fill_bytes(&mut salt_bytes);
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| StoreError::Internal(format!("password hashing stopped: {e}")))?
    .map_err(|e| StoreError::invalid("password", "invalid", e.to_string()))
}

/// The audit trail outlives a deleted administration on purpose (its `administration_id` has no
/// foreign key so that it can).
const KEPT_AFTER_DELETION: &[&str] = &["audit_log"];

/// Tables with an `administration_id` column that has no foreign key, from the database's catalogue,
/// apart from [`KEPT_AFTER_DELETION`]: data features keep per administration without tying it to
/// the administration's row (so a deletion is never blocked by it), which goes when the
/// administration goes.
async fn derived_tables(tx: &mut Tx) -> Result<Vec<String>> {
    let tables: Vec<String> = match &mut tx.inner {
        TxInner::Sqlite(transaction) => {
            sqlx::query_scalar(
                "SELECT m.name FROM sqlite_master AS m WHERE m.type = 'table' \
                 AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) AS c WHERE c.name = 'administration_id') \
                 AND NOT EXISTS (SELECT 1 FROM pragma_foreign_key_list(m.name) AS f WHERE f.\"from\" = 'administration_id') \
                 ORDER BY m.name",
            )
            .fetch_all(&mut **transaction)
            .await?
        }
        TxInner::Postgres(transaction) => {
            sqlx::query_scalar(
                "SELECT c.table_name::TEXT FROM information_schema.columns AS c \
                 JOIN information_schema.tables AS t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
                 WHERE c.table_schema = current_schema() AND c.column_name = 'administration_id' \
                 AND t.table_type = 'BASE TABLE' \
                 AND NOT EXISTS (SELECT 1 FROM information_schema.key_column_usage AS k \
                   JOIN information_schema.table_constraints AS tc ON tc.constraint_schema = k.constraint_schema \
                   AND tc.constraint_name = k.constraint_name \
                   WHERE tc.constraint_type = 'FOREIGN KEY' AND k.table_schema = c.table_schema \
                   AND k.table_name = c.table_name AND k.column_name = 'administration_id') \
                 ORDER BY c.table_name",
            )
            .fetch_all(&mut **transaction)
            .await?
        }
    };
    Ok(tables
        .into_iter()
        .filter(|table| !KEPT_AFTER_DELETION.contains(&table.as_str()))
        .collect())
}

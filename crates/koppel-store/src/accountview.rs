//! What the AccountView integration keeps in Koppel's database: one connection per administration
//! (tokens arrive here already encrypted by `koppel-accountview`), the OAuth states of sign-ins in
//! progress, the code lists imported from AccountView, the import cursors, and the export ledger.
//!
//! The export ledger is what makes exports exactly-once: a row per work order is written before its
//! invoice is posted and only ever moves forward; it survives a disconnect, so reconnecting never
//! exports a work order twice.

use crate::records::{StoredRecord, decode_record, sql};
use crate::sql::{on_pool, on_tx};
use crate::{Result, Store, StoreError, Tx, WriteTx};
use chrono::{DateTime, Utc};
use koppel_domain::record::ResourceSpec;
use koppel_domain::{AdministrationId, RecordId, UserId};
use serde::Serialize;
use serde_json::Value as Json;
use sqlx::AssertSqlSafe;

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

/// The code lists imported from AccountView, each in a table of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeList {
    VatCodes,
    LedgerAccounts,
    Journals,
    CostCentres,
    ArticleGroups,
}

impl CodeList {
    pub const ALL: [CodeList; 5] = [
        CodeList::VatCodes,
        CodeList::LedgerAccounts,
        CodeList::Journals,
        CodeList::CostCentres,
        CodeList::ArticleGroups,
    ];

    fn table(self) -> &'static str {
        match self {
            CodeList::VatCodes => "accountview_vat_codes",
            CodeList::LedgerAccounts => "accountview_ledger_accounts",
            CodeList::Journals => "accountview_journals",
            CodeList::CostCentres => "accountview_cost_centres",
            CodeList::ArticleGroups => "accountview_article_groups",
        }
    }
}

/// One imported code. Fields a list does not have stay at their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CodeEntry {
    pub code: String,
    pub name: String,
    pub blocked: bool,
    /// VAT codes: the percentage as AccountView gives it, e.g. `21` or `9.00`.
    pub percentage: String,
    pub reverse_charge: bool,
    /// Ledger accounts: a revenue account (`STAT_SELL`).
    pub revenue: bool,
    /// Journals: `V` for sales.
    pub journal_type: String,
}

/// Where an import category stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportCursor {
    /// The newest `CNG_DATE` of the last complete run.
    pub changed_since: Option<String>,
    /// The key of the last row of the last page of a run that did not finish.
    pub last_key: Option<String>,
}

/// Where the export of one work order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    /// Recorded before posting; the invoice may or may not be in AccountView.
    Intent,
    Exported,
    /// AccountView refused the invoice; the work order shows the reason.
    Failed,
}

impl ExportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Intent => "intent",
            ExportState::Exported => "exported",
            ExportState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> ExportState {
        match text {
            "exported" => ExportState::Exported,
            "failed" => ExportState::Failed,
            _ => ExportState::Intent,
        }
    }
}

/// One row of the export ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportRecord {
    pub work_order: RecordId,
    pub invoice: RecordId,
    pub invoice_number: String,
    pub company_id: String,
    pub state: ExportState,
    pub total_excl_vat_cents: i64,
    pub total_vat_cents: i64,
    /// How often a POST was started; more than zero means "read back before posting again".
    pub post_attempts: i64,
    pub error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    work_order_id: i64,
    invoice_id: i64,
    invoice_number: String,
    company_id: String,
    state: String,
    total_excl_vat: i64,
    total_vat: i64,
    post_attempts: i64,
    error: Option<String>,
}

impl From<ExportRow> for ExportRecord {
    fn from(row: ExportRow) -> ExportRecord {
        ExportRecord {
            work_order: RecordId(row.work_order_id),
            invoice: RecordId(row.invoice_id),
            invoice_number: row.invoice_number,
            company_id: row.company_id,
            state: ExportState::parse(&row.state),
            total_excl_vat_cents: row.total_excl_vat,
            total_vat_cents: row.total_vat,
            post_attempts: row.post_attempts,
            error: row.error,
        }
    }
}

const EXPORT_COLUMNS: &str =
    "work_order_id, invoice_id, invoice_number, company_id, state, total_excl_vat, total_vat, post_attempts, error";

impl Store {
    /// Remembers a sign-in in progress under the hash of its `state`.
    pub async fn accountview_create_oauth_state(&self, state_hash: &str, state: &OAuthState) -> Result<()> {
        let now = self.now();
        on_pool!(self.pool(), pool => sqlx::query("DELETE FROM accountview_oauth_states WHERE expires_at < $1")
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        on_pool!(self.pool(), pool => sqlx::query(
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
    pub async fn accountview_take_oauth_state(&self, state_hash: &str) -> Result<Option<OAuthState>> {
        let row: Option<(i64, i64, String, DateTime<Utc>)> = on_pool!(self.pool(), pool => sqlx::query_as(
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
    pub async fn accountview_connection(&self, administration: AdministrationId) -> Result<Option<Connection>> {
        let statement =
            format!("SELECT {CONNECTION_COLUMNS} FROM accountview_connections WHERE administration_id = $1");
        let row: Option<ConnectionRow> = on_pool!(self.pool(), pool => sqlx::query_as(AssertSqlSafe(statement))
            .bind(administration.0)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(Connection::from))
    }

    /// Administrations whose connection is live and saved: the ones that sync.
    pub async fn accountview_active_connections(&self) -> Result<Vec<AdministrationId>> {
        let ids: Vec<i64> = on_pool!(self.pool(), pool => sqlx::query_scalar(
            "SELECT administration_id FROM accountview_connections \
             WHERE status = 'connected' AND saved_at IS NOT NULL ORDER BY administration_id",
        )
        .fetch_all(pool)
        .await)?;
        Ok(ids.into_iter().map(AdministrationId).collect())
    }

    /// Stores the tokens of a completed sign-in. A connection that exists (expired consent) keeps its
    /// company and settings; a new one starts unsaved with `settings`.
    pub async fn accountview_connect(
        &self,
        administration: AdministrationId,
        user: UserId,
        tokens: &StoredTokens,
        settings: &Json,
    ) -> Result<Connection> {
        let now = self.now();
        on_pool!(self.pool(), pool => sqlx::query(
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
        self.accountview_connection(administration)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Saves the chosen company and the settings. The company is locked once saved: choosing another
    /// one needs a disconnect first.
    pub async fn accountview_save(
        &self,
        administration: AdministrationId,
        company: &ChosenCompany,
        settings: &Json,
    ) -> Result<Connection> {
        let mut tx = self.begin().await?;
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
        self.accountview_connection(administration)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Deletes the connection with its tokens and cursors. Imported data, code lists and the export
    /// ledger stay. Returns whether there was a connection.
    pub async fn accountview_disconnect(&self, administration: AdministrationId) -> Result<bool> {
        let mut tx = self.begin().await?;
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
    pub async fn accountview_claim_refresh(
        &self,
        administration: AdministrationId,
        token_version: i64,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let now = self.now();
        let claimed = on_pool!(self.pool(), pool => sqlx::query(
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
    pub async fn accountview_store_refreshed(
        &self,
        administration: AdministrationId,
        token_version: i64,
        tokens: &StoredTokens,
    ) -> Result<bool> {
        let now = self.now();
        let stored = on_pool!(self.pool(), pool => sqlx::query(
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
    pub async fn accountview_release_refresh(
        &self,
        administration: AdministrationId,
        token_version: i64,
    ) -> Result<()> {
        on_pool!(self.pool(), pool => sqlx::query(
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
    pub async fn accountview_expire_access(&self, administration: AdministrationId, token_version: i64) -> Result<()> {
        let past = self.now() - chrono::Duration::seconds(1);
        on_pool!(self.pool(), pool => sqlx::query(
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
    pub async fn accountview_mark_expired(&self, administration: AdministrationId) -> Result<()> {
        let now = self.now();
        on_pool!(self.pool(), pool => sqlx::query(
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

    /// Inserts or updates imported codes of one list.
    pub async fn accountview_upsert_codes(
        &self,
        administration: AdministrationId,
        list: CodeList,
        entries: &[CodeEntry],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        for entry in entries {
            let administration_id = administration.0;
            let (code, name, blocked) = (&entry.code, &entry.name, entry.blocked);
            on_tx!(tx, conn => match list {
                CodeList::VatCodes => sqlx::query(
                    "INSERT INTO accountview_vat_codes (administration_id, code, name, blocked, percentage, reverse_charge) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (administration_id, code) DO UPDATE SET \
                     name = excluded.name, blocked = excluded.blocked, percentage = excluded.percentage, \
                     reverse_charge = excluded.reverse_charge",
                )
                .bind(administration_id).bind(code).bind(name).bind(blocked)
                .bind(&entry.percentage).bind(entry.reverse_charge)
                .execute(conn).await.map(|r| r.rows_affected()),
                CodeList::LedgerAccounts => sqlx::query(
                    "INSERT INTO accountview_ledger_accounts (administration_id, code, name, blocked, revenue) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (administration_id, code) DO UPDATE SET \
                     name = excluded.name, blocked = excluded.blocked, revenue = excluded.revenue",
                )
                .bind(administration_id).bind(code).bind(name).bind(blocked).bind(entry.revenue)
                .execute(conn).await.map(|r| r.rows_affected()),
                CodeList::Journals => sqlx::query(
                    "INSERT INTO accountview_journals (administration_id, code, name, blocked, journal_type) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (administration_id, code) DO UPDATE SET \
                     name = excluded.name, blocked = excluded.blocked, journal_type = excluded.journal_type",
                )
                .bind(administration_id).bind(code).bind(name).bind(blocked).bind(&entry.journal_type)
                .execute(conn).await.map(|r| r.rows_affected()),
                CodeList::CostCentres => sqlx::query(
                    "INSERT INTO accountview_cost_centres (administration_id, code, name, blocked) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (administration_id, code) DO UPDATE SET \
                     name = excluded.name, blocked = excluded.blocked",
                )
                .bind(administration_id).bind(code).bind(name).bind(blocked)
                .execute(conn).await.map(|r| r.rows_affected()),
                CodeList::ArticleGroups => sqlx::query(
                    "INSERT INTO accountview_article_groups (administration_id, code, name) \
                     VALUES ($1, $2, $3) ON CONFLICT (administration_id, code) DO UPDATE SET name = excluded.name",
                )
                .bind(administration_id).bind(code).bind(name)
                .execute(conn).await.map(|r| r.rows_affected()),
            })?;
        }
        tx.commit().await
    }

    /// The imported codes of one list, by code.
    pub async fn accountview_codes(&self, administration: AdministrationId, list: CodeList) -> Result<Vec<CodeEntry>> {
        let extra = match list {
            CodeList::VatCodes => "blocked, percentage, reverse_charge, FALSE, ''",
            CodeList::LedgerAccounts => "blocked, '', FALSE, revenue, ''",
            CodeList::Journals => "blocked, '', FALSE, FALSE, journal_type",
            CodeList::CostCentres => "blocked, '', FALSE, FALSE, ''",
            CodeList::ArticleGroups => "FALSE, '', FALSE, FALSE, ''",
        };
        let statement = format!(
            "SELECT code, name, {extra} FROM {} WHERE administration_id = $1 ORDER BY code",
            list.table()
        );
        type CodeRow = (String, String, bool, String, bool, bool, String);
        let rows: Vec<CodeRow> = on_pool!(self.pool(), pool => sqlx::query_as(AssertSqlSafe(statement))
            .bind(administration.0)
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .map(
                |(code, name, blocked, percentage, reverse_charge, revenue, journal_type)| CodeEntry {
                    code,
                    name,
                    blocked,
                    percentage,
                    reverse_charge,
                    revenue,
                    journal_type,
                },
            )
            .collect())
    }

    pub async fn accountview_cursor(&self, administration: AdministrationId, category: &str) -> Result<ImportCursor> {
        let row: Option<(Option<String>, Option<String>)> = on_pool!(self.pool(), pool => sqlx::query_as(
            "SELECT changed_since, last_key FROM accountview_cursors WHERE administration_id = $1 AND category = $2",
        )
        .bind(administration.0)
        .bind(category)
        .fetch_optional(pool)
        .await)?;
        Ok(row
            .map(|(changed_since, last_key)| ImportCursor {
                changed_since,
                last_key,
            })
            .unwrap_or_default())
    }

    pub async fn accountview_set_cursor(
        &self,
        administration: AdministrationId,
        category: &str,
        cursor: &ImportCursor,
    ) -> Result<()> {
        on_pool!(self.pool(), pool => sqlx::query(
            "INSERT INTO accountview_cursors (administration_id, category, changed_since, last_key) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (administration_id, category) DO UPDATE SET changed_since = excluded.changed_since, \
             last_key = excluded.last_key",
        )
        .bind(administration.0)
        .bind(category)
        .bind(&cursor.changed_since)
        .bind(&cursor.last_key)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Work orders in `status` completed at or after `cut_off` that were not exported yet, by id.
    pub async fn accountview_export_candidates(
        &self,
        administration: AdministrationId,
        status: &str,
        cut_off: DateTime<Utc>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<RecordId>> {
        let ids: Vec<i64> = on_pool!(self.pool(), pool => sqlx::query_scalar(
            "SELECT w.id FROM work_orders w WHERE w.administration_id = $1 AND w.status = $2 \
             AND w.completed_at >= $3 AND w.id > $4 AND NOT EXISTS (SELECT 1 FROM accountview_exports e \
             WHERE e.administration_id = w.administration_id AND e.work_order_id = w.id AND e.state = 'exported') \
             ORDER BY w.id LIMIT $5",
        )
        .bind(administration.0)
        .bind(status)
        .bind(cut_off)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        Ok(ids.into_iter().map(RecordId).collect())
    }

    pub async fn accountview_export(
        &self,
        administration: AdministrationId,
        work_order: RecordId,
    ) -> Result<Option<ExportRecord>> {
        let statement = format!(
            "SELECT {EXPORT_COLUMNS} FROM accountview_exports WHERE administration_id = $1 AND work_order_id = $2"
        );
        let row: Option<ExportRow> = on_pool!(self.pool(), pool => sqlx::query_as(AssertSqlSafe(statement))
            .bind(administration.0)
            .bind(work_order.0)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(ExportRecord::from))
    }

    /// Every exported invoice of an administration (for the payment status import).
    pub async fn accountview_exported(&self, administration: AdministrationId) -> Result<Vec<ExportRecord>> {
        let statement = format!(
            "SELECT {EXPORT_COLUMNS} FROM accountview_exports WHERE administration_id = $1 AND state = 'exported' \
             ORDER BY work_order_id"
        );
        let rows: Vec<ExportRow> = on_pool!(self.pool(), pool => sqlx::query_as(AssertSqlSafe(statement))
            .bind(administration.0)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(ExportRecord::from).collect())
    }

    /// Counts of the ledger per state, for the overview.
    pub async fn accountview_export_counts(&self, administration: AdministrationId) -> Result<Vec<(String, i64)>> {
        Ok(on_pool!(self.pool(), pool => sqlx::query_as(
            "SELECT state, COUNT(*) FROM accountview_exports WHERE administration_id = $1 GROUP BY state ORDER BY state",
        )
        .bind(administration.0)
        .fetch_all(pool)
        .await)?)
    }

    /// Notes that a POST of this work order's invoice is about to start (before it is sent).
    pub async fn accountview_export_posting(
        &self,
        administration: AdministrationId,
        work_order: RecordId,
    ) -> Result<()> {
        let now = self.now();
        on_pool!(self.pool(), pool => sqlx::query(
            "UPDATE accountview_exports SET post_attempts = post_attempts + 1, updated_at = $3 \
             WHERE administration_id = $1 AND work_order_id = $2",
        )
        .bind(administration.0)
        .bind(work_order.0)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Records a refusal by AccountView: the ledger row fails and the work order moves to `error_status`
    /// with the reason, in one transaction.
    pub async fn accountview_export_failed(
        &self,
        administration: AdministrationId,
        work_order: RecordId,
        error_status: &str,
        reason: &str,
    ) -> Result<()> {
        let mut tx = self.write(administration).await?;
        let now = tx.now();
        set_export_state(
            tx.tx(),
            administration,
            work_order,
            ExportState::Failed,
            Some(reason),
            now,
        )
        .await?;
        let spec = &koppel_domain::resources::WORK_ORDERS;
        let mut patch = vec![None; spec.fields.len()];
        patch[spec.field_index("status")] = Some(koppel_domain::record::Value::Text(error_status.into()));
        let reason: String = reason.chars().take(2000).collect();
        patch[spec.field_index("export_error")] = Some(koppel_domain::record::Value::Text(reason));
        tx.update(spec, work_order, patch).await?;
        tx.commit().await
    }

    /// Records a confirmed export: the ledger row is exported and the work order moves to `done_status`,
    /// in one transaction.
    pub async fn accountview_export_done(
        &self,
        administration: AdministrationId,
        work_order: RecordId,
        done_status: &str,
    ) -> Result<()> {
        let mut tx = self.write(administration).await?;
        let now = tx.now();
        set_export_state(tx.tx(), administration, work_order, ExportState::Exported, None, now).await?;
        let spec = &koppel_domain::resources::WORK_ORDERS;
        let mut patch = vec![None; spec.fields.len()];
        patch[spec.field_index("status")] = Some(koppel_domain::record::Value::Text(done_status.into()));
        tx.update(spec, work_order, patch).await?;
        tx.commit().await
    }
}

async fn set_export_state(
    tx: &mut Tx,
    administration: AdministrationId,
    work_order: RecordId,
    state: ExportState,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let exported_at = (state == ExportState::Exported).then_some(now);
    let changed = on_tx!(tx, conn => sqlx::query(
        "UPDATE accountview_exports SET state = $3, error = $4, updated_at = $5, exported_at = $6 \
         WHERE administration_id = $1 AND work_order_id = $2 AND state <> 'exported'",
    )
    .bind(administration.0)
    .bind(work_order.0)
    .bind(state.as_str())
    .bind(error)
    .bind(now)
    .bind(exported_at)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if changed == 0 {
        return Err(StoreError::conflict(
            "export_not_open",
            "this work order has no open export (it was exported already)",
        ));
    }
    Ok(())
}

impl WriteTx {
    /// The record of `spec` with this code (or number), if any.
    pub async fn record_by_code(&mut self, spec: &ResourceSpec, code: &str) -> Result<Option<StoredRecord>> {
        let field = spec.unique.expect("resource has a unique code");
        let statement = format!(
            "SELECT {} FROM {} WHERE administration_id = $1 AND {field} = $2",
            sql(spec).columns,
            spec.table
        );
        let administration = self.administration;
        let record = on_tx!(self.tx, conn => {
            let row = sqlx::query(AssertSqlSafe(statement))
                .bind(administration.0)
                .bind(code)
                .fetch_optional(conn)
                .await?;
            row.map(|row| decode_record(&row, spec)).transpose()?
        });
        Ok(record)
    }

    /// Opens the export of a work order: makes its Koppel invoice if it has none yet and records the
    /// intent to post it under `invoice_number_prefix` + the invoice number. An open intent is kept as
    /// it is (it may have been posted already); a failed one is opened again.
    pub async fn accountview_open_export(
        &mut self,
        work_order: RecordId,
        company_id: &str,
        invoice_number_prefix: &str,
        payment_term_days: i64,
    ) -> Result<(ExportRecord, StoredRecord)> {
        let administration = self.administration;
        let now = self.now();
        let existing_invoice: Option<i64> = on_tx!(self.tx, conn => sqlx::query_scalar(
            "SELECT id FROM invoices WHERE administration_id = $1 AND work_order_id = $2",
        )
        .bind(administration.0)
        .bind(work_order.0)
        .fetch_optional(conn)
        .await)?;
        let invoice = match existing_invoice {
            Some(id) => {
                self.tx
                    .get_record(administration, &koppel_domain::resources::INVOICES, RecordId(id))
                    .await?
            }
            None => self.invoice_work_order(work_order, payment_term_days).await?,
        };
        let spec = &koppel_domain::resources::INVOICES;
        let number = format!(
            "{invoice_number_prefix}{}",
            invoice.get(spec, "number").as_str().unwrap_or_default()
        );
        let excl = invoice.get(spec, "total_excl_vat").as_i64().unwrap_or_default();
        let vat = invoice.get(spec, "total_vat").as_i64().unwrap_or_default();
        on_tx!(self.tx, conn => sqlx::query(
            "INSERT INTO accountview_exports (administration_id, work_order_id, invoice_id, invoice_number, company_id, \
             state, total_excl_vat, total_vat, post_attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'intent', $6, $7, 0, $8, $8) \
             ON CONFLICT (administration_id, work_order_id) DO UPDATE SET state = 'intent', error = NULL, \
             updated_at = excluded.updated_at WHERE accountview_exports.state = 'failed'",
        )
        .bind(administration.0)
        .bind(work_order.0)
        .bind(invoice.id.0)
        .bind(&number)
        .bind(company_id)
        .bind(excl)
        .bind(vat)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        let statement = format!(
            "SELECT {EXPORT_COLUMNS} FROM accountview_exports WHERE administration_id = $1 AND work_order_id = $2"
        );
        let row: ExportRow = on_tx!(self.tx, conn => sqlx::query_as(AssertSqlSafe(statement))
            .bind(administration.0)
            .bind(work_order.0)
            .fetch_one(conn)
            .await)?;
        Ok((ExportRecord::from(row), invoice))
    }
}

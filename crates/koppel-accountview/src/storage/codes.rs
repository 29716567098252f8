//! The code lists imported from AccountView (each in a table of its own) and the import cursors.

use koppel_domain::AdministrationId;
use koppel_store::sql::{AssertSqlSafe, on_pool, on_tx};
use koppel_store::{Result, Store};
use serde::Serialize;

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

/// Inserts or updates imported codes of one list.
pub async fn upsert_codes(
    store: &Store,
    administration: AdministrationId,
    list: CodeList,
    entries: &[CodeEntry],
) -> Result<()> {
    let mut tx = store.begin().await?;
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
pub async fn codes(store: &Store, administration: AdministrationId, list: CodeList) -> Result<Vec<CodeEntry>> {
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
    let rows: Vec<CodeRow> = on_pool!(store.pool(), pool => sqlx::query_as(AssertSqlSafe(statement))
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

pub async fn cursor(store: &Store, administration: AdministrationId, category: &str) -> Result<ImportCursor> {
    let row: Option<(Option<String>, Option<String>)> = on_pool!(store.pool(), pool => sqlx::query_as(
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

pub async fn set_cursor(
    store: &Store,
    administration: AdministrationId,
    category: &str,
    cursor: &ImportCursor,
) -> Result<()> {
    on_pool!(store.pool(), pool => sqlx::query(
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

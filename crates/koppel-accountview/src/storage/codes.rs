//! The code lists imported from AccountView (each in a table of its own) and the import cursors.
//! An import writes a page of codes with a few multi-row statements, and the cursor after the page in
//! the same transaction.

use koppel_domain::AdministrationId;
use koppel_domain::record::{StorageType, Value};
use koppel_store::sql::{AssertSqlSafe, bind_value, on_pool, on_tx};
use koppel_store::{Result, Store, Tx};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write;

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

impl CodeEntry {
    /// The values of the list's columns ([`CodeList::columns`]), in that order.
    fn values(&self, list: CodeList) -> Vec<Value> {
        let text = |text: &str| Value::Text(text.to_string());
        let mut values = vec![text(&self.code), text(&self.name)];
        match list {
            CodeList::VatCodes => values.extend([
                Value::Bool(self.blocked),
                text(&self.percentage),
                Value::Bool(self.reverse_charge),
            ]),
            CodeList::LedgerAccounts => values.extend([Value::Bool(self.blocked), Value::Bool(self.revenue)]),
            CodeList::Journals => values.extend([Value::Bool(self.blocked), text(&self.journal_type)]),
            CodeList::CostCentres => values.push(Value::Bool(self.blocked)),
            CodeList::ArticleGroups => {}
        }
        values
    }
}

impl CodeList {
    /// The columns a list stores, `code` first.
    fn columns(self) -> &'static [(&'static str, StorageType)] {
        use StorageType::{Bool, Text};
        match self {
            CodeList::VatCodes => &[
                ("code", Text),
                ("name", Text),
                ("blocked", Bool),
                ("percentage", Text),
                ("reverse_charge", Bool),
            ],
            CodeList::LedgerAccounts => &[("code", Text), ("name", Text), ("blocked", Bool), ("revenue", Bool)],
            CodeList::Journals => &[
                ("code", Text),
                ("name", Text),
                ("blocked", Bool),
                ("journal_type", Text),
            ],
            CodeList::CostCentres => &[("code", Text), ("name", Text), ("blocked", Bool)],
            CodeList::ArticleGroups => &[("code", Text), ("name", Text)],
        }
    }

    /// What [`codes`] selects: every [`CodeEntry`] field, with defaults for those the list lacks.
    fn select(self) -> String {
        let extra = match self {
            CodeList::VatCodes => "blocked, percentage, reverse_charge, FALSE, ''",
            CodeList::LedgerAccounts => "blocked, '', FALSE, revenue, ''",
            CodeList::Journals => "blocked, '', FALSE, FALSE, journal_type",
            CodeList::CostCentres => "blocked, '', FALSE, FALSE, ''",
            CodeList::ArticleGroups => "FALSE, '', FALSE, FALSE, ''",
        };
        format!(
            "SELECT code, name, {extra} FROM {} WHERE administration_id = $1",
            self.table()
        )
    }
}

type CodeRow = (String, String, bool, String, bool, bool, String);

fn entry((code, name, blocked, percentage, reverse_charge, revenue, journal_type): CodeRow) -> CodeEntry {
    CodeEntry {
        code,
        name,
        blocked,
        percentage,
        reverse_charge,
        revenue,
        journal_type,
    }
}

/// Codes per statement when reading or writing many (far below both backends' parameter limits).
const CODES_PER_STATEMENT: usize = 500;

/// Inserts or updates imported codes of one list, in one transaction.
pub async fn upsert_codes(
    store: &Store,
    administration: AdministrationId,
    list: CodeList,
    entries: &[CodeEntry],
) -> Result<()> {
    let mut tx = store.begin().await?;
    upsert_codes_in(&mut tx, administration, list, entries).await?;
    tx.commit().await
}

/// Inserts or updates imported codes of one list inside a transaction, a few hundred per statement.
/// A code given twice ends with its last values.
pub async fn upsert_codes_in(
    tx: &mut Tx,
    administration: AdministrationId,
    list: CodeList,
    entries: &[CodeEntry],
) -> Result<()> {
    // One row per code: PostgreSQL refuses a statement that would update a row twice.
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        last.insert(entry.code.as_str(), index);
    }
    let distinct: Vec<&CodeEntry> = entries
        .iter()
        .enumerate()
        .filter(|(index, entry)| last.get(entry.code.as_str()) == Some(index))
        .map(|(_, entry)| entry)
        .collect();
    let columns = list.columns();
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let updates: Vec<String> = names[1..]
        .iter()
        .map(|name| format!("{name} = excluded.{name}"))
        .collect();
    for chunk in distinct.chunks(CODES_PER_STATEMENT) {
        let mut statement = format!(
            "INSERT INTO {} (administration_id, {}) VALUES ",
            list.table(),
            names.join(", ")
        );
        let mut parameter = 2;
        for row in 0..chunk.len() {
            statement.push_str(if row == 0 { "($1" } else { ", ($1" });
            for _ in columns {
                let _ = write!(statement, ", ${parameter}");
                parameter += 1;
            }
            statement.push(')');
        }
        let _ = write!(
            statement,
            " ON CONFLICT (administration_id, code) DO UPDATE SET {}",
            updates.join(", ")
        );
        on_tx!(tx, conn => {
            let mut query = sqlx::query(AssertSqlSafe(statement)).bind(administration.0);
            for entry in chunk {
                for (value, (_, storage)) in entry.values(list).iter().zip(columns) {
                    query = bind_value!(query, value, *storage);
                }
            }
            query.execute(conn).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// The stored entries of the given codes of one list, by code, read inside a transaction.
pub async fn codes_in(
    tx: &mut Tx,
    administration: AdministrationId,
    list: CodeList,
    codes: &[String],
) -> Result<HashMap<String, CodeEntry>> {
    let mut distinct: Vec<&str> = codes.iter().map(String::as_str).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut found = HashMap::with_capacity(distinct.len());
    for chunk in distinct.chunks(CODES_PER_STATEMENT) {
        let mut statement = list.select();
        statement.push_str(" AND code IN (");
        for index in 0..chunk.len() {
            let separator = if index == 0 { "" } else { ", " };
            let _ = write!(statement, "{separator}${}", index + 2);
        }
        statement.push(')');
        let rows: Vec<CodeRow> = on_tx!(tx, conn => {
            let mut query = sqlx::query_as(AssertSqlSafe(statement)).bind(administration.0);
            for code in chunk {
                query = query.bind(*code);
            }
            query.fetch_all(conn).await
        })?;
        found.extend(rows.into_iter().map(|row| (row.0.clone(), entry(row))));
    }
    Ok(found)
}

/// The imported codes of one list, by code.
pub async fn codes(store: &Store, administration: AdministrationId, list: CodeList) -> Result<Vec<CodeEntry>> {
    let statement = format!("{} ORDER BY code", list.select());
    let rows: Vec<CodeRow> = on_pool!(store.pool(), pool => sqlx::query_as(AssertSqlSafe(statement))
        .bind(administration.0)
        .fetch_all(pool)
        .await)?;
    Ok(rows.into_iter().map(entry).collect())
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
    let mut tx = store.begin().await?;
    set_cursor_in(&mut tx, administration, category, cursor).await?;
    tx.commit().await
}

/// Stores where an import category stands inside a transaction, so a page and the cursor after it
/// are kept together or not at all.
pub async fn set_cursor_in(
    tx: &mut Tx,
    administration: AdministrationId,
    category: &str,
    cursor: &ImportCursor,
) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO accountview_cursors (administration_id, category, changed_since, last_key) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (administration_id, category) DO UPDATE SET changed_since = excluded.changed_since, \
         last_key = excluded.last_key",
    )
    .bind(administration.0)
    .bind(category)
    .bind(&cursor.changed_since)
    .bind(&cursor.last_key)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

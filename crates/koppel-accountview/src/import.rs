//! `accountview_import`: reads master data from AccountView and brings Koppel in line with it.
//! AccountView leads for what it imports: debtors become relations (blocked stays blocked), articles
//! become materials, code lists land in tables of their own, and the payment status of exported
//! invoices comes from the open items in `GJ1`.
//!
//! Reading is keyset-paged with `lastKey` and incremental per category: the newest `CNG_DATE` of a
//! complete run is the cursor of the next one, and the `lastKey` of every stored page is kept so an
//! interrupted run resumes where it stopped. Each page is stored in one transaction together with the
//! cursor after it: the stored rows of the page's codes are read in one go, new, changed and unchanged
//! rows told apart in memory, and only new and changed ones written, with multi-row upserts by code
//! (records through [`koppel_store::WriteTx::upsert_by_code`], so change tracking sees them). A crash
//! leaves a page wholly stored or not at all, and running twice is harmless. The next page is read
//! from AccountView while the current one is stored.
//!
//! The scheduler runs it for every connected, saved administration ([`Connected`]), at the
//! operator's interval.

use crate::api::ReadQuery;
use crate::settings::{ImportCategory, Settings};
use crate::storage::{self, CodeEntry, CodeList, ImportCursor};
use crate::{AccountView, AccountViewError};
use koppel_domain::record::{ResourceSpec, Value};
use koppel_domain::resources::{INVOICES, MATERIALS, PAYMENTS, RELATIONS};
use koppel_domain::{AdministrationId, Money, UserId, VatRate};
use koppel_jobs::runs::RunMessage;
use koppel_jobs::{Audience, AudienceFuture, Enqueued, Job, JobContext, JobError, JobFuture, JobType, Outcome, Scope};
use koppel_store::upserts::Upserted;
use koppel_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, HashMap, HashSet};

pub const KIND: &str = "accountview_import";

/// What an import job carries: the categories to import (empty: every category that is on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportPayload {
    pub categories: Vec<ImportCategory>,
}

/// Enqueues an import ("import now"), joining one that is queued or running.
pub async fn enqueue(
    store: &Store,
    administration: AdministrationId,
    categories: Vec<ImportCategory>,
    user: Option<UserId>,
) -> Result<Enqueued, StoreError> {
    let payload =
        serde_json::to_value(ImportPayload { categories }).map_err(|error| StoreError::Internal(error.to_string()))?;
    let mut job = ImportJob::job(Some(administration), payload);
    if let Some(user) = user {
        job = job.manual(user);
    }
    koppel_jobs::enqueue_committed(store, &job).await
}

/// What one category's import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CategoryCounts {
    /// Rows read from AccountView.
    pub fetched: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
    /// Pages requested.
    pub pages: u64,
}

impl CategoryCounts {
    /// Adds what one page did.
    fn add(&mut self, page: &CategoryCounts) {
        self.fetched += page.fetched;
        self.created += page.created;
        self.updated += page.updated;
        self.unchanged += page.unchanged;
        self.skipped += page.skipped;
        self.pages += page.pages;
    }
}

/// The job kind; register it in the worker's registry.
pub struct ImportJob {
    pub accountview: AccountView,
}

impl JobType for ImportJob {
    const KIND: &'static str = KIND;
    /// "Import now" and the scheduled import join the one that is queued or running.
    const DEDUPLICATED: bool = true;
    const SCHEDULE: Option<Scope> = Some(Scope::Among(&Connected));
}

impl Job for ImportJob {
    fn run<'a>(&'a self, context: &'a JobContext) -> JobFuture<'a> {
        Box::pin(async move {
            let administration = job_administration(context)?;
            let payload: ImportPayload = context.payload()?;
            let counts = self
                .accountview
                .import(administration, &payload.categories, Some(context))
                .await?;
            Ok(Outcome::done().counts(json!(counts)).message(RunMessage::new(
                format!("Import uit AccountView voltooid: {}.", summary(&counts, true)),
                format!("Import from AccountView completed: {}.", summary(&counts, false)),
            )))
        })
    }
}

/// `1234567` as `1.234.567` (Dutch) or `1,234,567` (English): a run's message is read as it is stored.
fn number(value: u64, dutch: bool) -> String {
    let digits = value.to_string();
    let separator = if dutch { '.' } else { ',' };
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(separator);
        }
        grouped.push(digit);
    }
    grouped
}

/// Per category what was read and what became of it; the parts add up to what was read
/// (new + updated + unchanged + skipped), so "231 read" never stands beside "199 new, 0 updated".
fn summary(counts: &BTreeMap<ImportCategory, CategoryCounts>, dutch: bool) -> String {
    counts
        .iter()
        .map(|(category, c)| {
            let name = if dutch { category.name_nl() } else { category.name_en() };
            let n = |value: u64| number(value, dutch);
            if *category == ImportCategory::Payments {
                // Payments are counted per exported invoice, not per AccountView row.
                return if dutch {
                    format!(
                        "{name}: {} facturen bijgewerkt, {} ongewijzigd",
                        n(c.updated),
                        n(c.unchanged)
                    )
                } else {
                    format!(
                        "{name}: {} invoices updated, {} unchanged",
                        n(c.updated),
                        n(c.unchanged)
                    )
                };
            }
            let (read, new, updated, unchanged, skipped) = if dutch {
                ("gelezen", "nieuw", "bijgewerkt", "ongewijzigd", "overgeslagen")
            } else {
                ("read", "new", "updated", "unchanged", "skipped")
            };
            let mut parts = format!(
                "{name}: {} {read} ({} {new}, {} {updated}, {} {unchanged}",
                n(c.fetched),
                n(c.created),
                n(c.updated),
                n(c.unchanged)
            );
            if c.skipped > 0 {
                parts.push_str(&format!(", {} {skipped}", n(c.skipped)));
            }
            parts.push(')');
            parts
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reports an import's progress on its run: categories done of all that are imported, and the
/// counts so far in the run's usual shape (per category), including the category being imported.
/// Progress is for the eye only: a failed update does not fail the import.
struct Progress<'a> {
    context: Option<&'a JobContext>,
    total: i64,
}

impl Progress<'_> {
    async fn report(
        &self,
        done: usize,
        counts: &BTreeMap<ImportCategory, CategoryCounts>,
        current: Option<(ImportCategory, &CategoryCounts)>,
    ) {
        let Some(context) = self.context else { return };
        let mut shown = counts.clone();
        if let Some((category, so_far)) = current {
            shown.insert(category, so_far.clone());
        }
        let done = i64::try_from(done).unwrap_or(i64::MAX);
        if let Err(error) = context.progress(done, Some(self.total), Some(&json!(shown))).await {
            tracing::warn!(run.id = context.job().run_id.0, error = %error, "could not record the import's progress");
        }
    }
}

/// Where an import stands while one category is being imported: reported after every page.
struct Step<'a> {
    progress: &'a Progress<'a>,
    /// Categories finished before this one.
    done: usize,
    counts: &'a BTreeMap<ImportCategory, CategoryCounts>,
}

impl Step<'_> {
    async fn report(&self, category: ImportCategory, so_far: &CategoryCounts) {
        self.progress
            .report(self.done, self.counts, Some((category, so_far)))
            .await;
    }
}

/// The administrations whose AccountView connection is saved and live: the audience of the
/// scheduled import and export.
pub struct Connected;

impl Audience for Connected {
    fn name(&self) -> &'static str {
        "accountview_connected"
    }

    fn administrations<'a>(&'a self, store: &'a Store) -> AudienceFuture<'a, Vec<AdministrationId>> {
        Box::pin(async move { storage::active_connections(store).await })
    }
}

/// The administration an import or export job works for; every one has one.
pub(crate) fn job_administration(context: &JobContext) -> Result<AdministrationId, JobError> {
    context.administration().ok_or_else(|| {
        JobError::permanent(
            RunMessage::new(
                "Een AccountView-taak hoort bij een administratie.",
                "An AccountView job belongs to an administration.",
            ),
            anyhow::anyhow!("{} job {} has no administration", context.job().kind, context.job().id),
        )
    })
}

fn text(row: &Json, field: &str) -> String {
    match &row[field] {
        Json::String(text) => text.trim().to_string(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

fn flag(row: &Json, field: &str) -> bool {
    row[field].as_bool().unwrap_or(false)
}

/// A numeric field as exact cents (AccountView sends JSON numbers).
pub(crate) fn cents(row: &Json, field: &str) -> Money {
    match &row[field] {
        Json::Number(number) => Money::parse(&number.to_string()).unwrap_or(Money::ZERO),
        Json::String(text) => Money::parse(text.trim()).unwrap_or(Money::ZERO),
        _ => Money::ZERO,
    }
}

impl AccountView {
    /// Imports the given categories (empty: all that are on) for one administration.
    pub async fn import(
        &self,
        administration: AdministrationId,
        categories: &[ImportCategory],
        context: Option<&JobContext>,
    ) -> Result<BTreeMap<ImportCategory, CategoryCounts>, AccountViewError> {
        let connection = self.live_connection(administration).await?;
        let settings = Settings::of(&connection);
        let company = connection.company.expect("a live connection has a company").id;
        let wanted: Vec<ImportCategory> = ImportCategory::ALL
            .into_iter()
            .filter(|category| {
                if categories.is_empty() {
                    settings.import.is_on(*category)
                } else {
                    categories.contains(category)
                }
            })
            .collect();
        let progress = Progress {
            context,
            total: i64::try_from(wanted.len()).unwrap_or(i64::MAX),
        };
        let mut counts = BTreeMap::new();
        progress.report(0, &counts, None).await;
        for (done, category) in wanted.into_iter().enumerate() {
            if context.is_some_and(JobContext::is_cancelled) {
                break;
            }
            let step = Step {
                progress: &progress,
                done,
                counts: &counts,
            };
            let result = match category {
                ImportCategory::Payments => self.import_payments(administration, &company, &step).await?,
                _ => {
                    self.import_category(administration, &company, category, &settings, &step)
                        .await?
                }
            };
            counts.insert(category, result);
            progress.report(done + 1, &counts, None).await;
        }
        Ok(counts)
    }

    /// Pages through one category from its cursor and stores each page.
    async fn import_category(
        &self,
        administration: AdministrationId,
        company: &str,
        category: ImportCategory,
        settings: &Settings,
        step: &Step<'_>,
    ) -> Result<CategoryCounts, AccountViewError> {
        let (table, key) = table_of(category);
        let cursor = storage::cursor(&self.store, administration, category.slug()).await?;
        let mut counts = CategoryCounts::default();
        let mut last_key = cursor.last_key.clone();
        let mut newest = cursor.changed_since.clone();
        let vat_rates = if category == ImportCategory::Articles {
            self.vat_rates(administration).await?
        } else {
            HashMap::new()
        };
        let query = |last_key: Option<String>| {
            let mut query = ReadQuery {
                business_object: category.business_object(),
                page_size: self.config.page_size,
                last_key: Some(last_key.unwrap_or_default()),
                filters: Vec::new(),
            };
            if let Some(since) = &cursor.changed_since {
                query
                    .filters
                    .push(("CNG_DATE", "GreaterThanOrEqual", "T", since.clone()));
            }
            query
        };
        let mut page = self.read(administration, company, &query(last_key.clone())).await?;
        loop {
            let rows = page[table].as_array().cloned().unwrap_or_default();
            counts.pages += 1;
            counts.fetched += rows.len() as u64;
            for row in &rows {
                let changed = text(row, "CNG_DATE");
                if newest.as_deref().is_none_or(|n| changed.as_str() > n) {
                    newest = Some(changed);
                }
            }
            if let Some(last) = rows.last() {
                last_key = Some(text(last, key));
            }
            let short = rows.len() < self.config.page_size as usize;
            // The cursor after this page, stored with it: an interrupted run resumes after the last
            // stored page; a complete run moves the incremental cursor on.
            let after = if short {
                ImportCursor {
                    changed_since: newest.clone(),
                    last_key: None,
                }
            } else {
                ImportCursor {
                    changed_since: cursor.changed_since.clone(),
                    last_key: last_key.clone(),
                }
            };
            let stored = self.store_page(administration, category, &rows, settings, &vat_rates, &after);
            if short {
                counts.add(&stored.await?);
                step.report(category, &counts).await;
                return Ok(counts);
            }
            // The next page is read while this one is stored: its key is already known.
            let next = query(last_key.clone());
            let (stored, next) = tokio::join!(stored, self.read(administration, company, &next));
            counts.add(&stored?);
            step.report(category, &counts).await;
            page = next?;
        }
    }

    /// Koppel's VAT rate per imported AccountView VAT code.
    async fn vat_rates(&self, administration: AdministrationId) -> Result<HashMap<String, VatRate>, AccountViewError> {
        let codes = storage::codes(&self.store, administration, CodeList::VatCodes).await?;
        Ok(codes
            .into_iter()
            .filter_map(|entry| {
                let rate = if entry.reverse_charge {
                    VatRate::ReverseCharge
                } else {
                    let percentage = Money::parse(&entry.percentage).ok()?.cents();
                    match percentage {
                        2100 => VatRate::High,
                        900 => VatRate::Low,
                        0 => VatRate::Zero,
                        _ => return None,
                    }
                };
                Some((entry.code, rate))
            })
            .collect())
    }

    /// Stores one page of a category and the cursor after it, in one transaction.
    async fn store_page(
        &self,
        administration: AdministrationId,
        category: ImportCategory,
        rows: &[Json],
        settings: &Settings,
        vat_rates: &HashMap<String, VatRate>,
        after: &ImportCursor,
    ) -> Result<CategoryCounts, AccountViewError> {
        let code_list = |list: CodeList, entries: Vec<CodeEntry>| (list, entries);
        let (list, entries) = match category {
            ImportCategory::VatCodes => code_list(
                CodeList::VatCodes,
                rows.iter()
                    .map(|row| CodeEntry {
                        code: text(row, "VAT_CODE"),
                        name: text(row, "VAT_NAME"),
                        blocked: flag(row, "REC_BLK"),
                        percentage: text(row, "VAT_PCT"),
                        reverse_charge: flag(row, "IS_REVERSE"),
                        ..CodeEntry::default()
                    })
                    .collect(),
            ),
            ImportCategory::LedgerAccounts => code_list(
                CodeList::LedgerAccounts,
                rows.iter()
                    .map(|row| CodeEntry {
                        code: text(row, "ACCT_NR"),
                        name: text(row, "ACCT_NAME"),
                        blocked: flag(row, "REC_BLK"),
                        revenue: flag(row, "STAT_SELL"),
                        ..CodeEntry::default()
                    })
                    .collect(),
            ),
            ImportCategory::Journals => code_list(
                CodeList::Journals,
                rows.iter()
                    .map(|row| CodeEntry {
                        code: text(row, "DJ_CODE"),
                        name: text(row, "DJ_NAME"),
                        blocked: flag(row, "REC_BLK"),
                        journal_type: text(row, "DJ_TYPE"),
                        ..CodeEntry::default()
                    })
                    .collect(),
            ),
            ImportCategory::CostCentres => code_list(
                CodeList::CostCentres,
                rows.iter()
                    .map(|row| CodeEntry {
                        code: text(row, "COST_CODE"),
                        name: text(row, "COST_DESC"),
                        blocked: flag(row, "REC_BLK"),
                        ..CodeEntry::default()
                    })
                    .collect(),
            ),
            ImportCategory::ArticleGroups => code_list(
                CodeList::ArticleGroups,
                rows.iter()
                    .map(|row| CodeEntry {
                        code: text(row, "AG_CODE"),
                        name: text(row, "AG_DESC"),
                        ..CodeEntry::default()
                    })
                    .collect(),
            ),
            ImportCategory::Debtors => {
                let incoming = rows.iter().map(|row| debtor(row, settings)).collect();
                return self
                    .store_records(administration, category, &RELATIONS, incoming, 0, after)
                    .await;
            }
            ImportCategory::Articles => {
                let groups = &settings.import.article_groups;
                let mut skipped = 0;
                let mut incoming = Vec::with_capacity(rows.len());
                for row in rows {
                    let group = text(row, "AG_CODE");
                    if !groups.is_empty() && !groups.contains(&group) {
                        skipped += 1;
                    } else {
                        incoming.push(article(row, group, vat_rates));
                    }
                }
                return self
                    .store_records(administration, category, &MATERIALS, incoming, skipped, after)
                    .await;
            }
            ImportCategory::Payments => return Ok(CategoryCounts::default()),
        };
        // New, changed and unchanged codes are told apart, so the counts add up to what was read; only
        // new and changed ones are written.
        let mut counts = CategoryCounts::default();
        let mut tx = self.store.begin().await?;
        let codes: Vec<String> = entries.iter().map(|entry| entry.code.clone()).collect();
        let mut known = storage::codes_in(&mut tx, administration, list, &codes).await?;
        let mut changed = Vec::new();
        for entry in entries {
            match known.get(&entry.code) {
                None => counts.created += 1,
                Some(stored) if *stored == entry => {
                    counts.unchanged += 1;
                    continue;
                }
                Some(_) => counts.updated += 1,
            }
            known.insert(entry.code.clone(), entry.clone());
            changed.push(entry);
        }
        storage::upsert_codes_in(&mut tx, administration, list, &changed).await?;
        storage::set_cursor_in(&mut tx, administration, category.slug(), after).await?;
        tx.commit().await?;
        Ok(counts)
    }

    /// Records (debtors, articles) of one page, one write transaction: the stored records of the
    /// page's codes are read at once, new and changed ones written in a few statements
    /// ([`koppel_store::WriteTx::upsert_by_code`]), and the cursor after the page with them.
    async fn store_records(
        &self,
        administration: AdministrationId,
        category: ImportCategory,
        spec: &ResourceSpec,
        incoming: Vec<Incoming>,
        skipped: u64,
        after: &ImportCursor,
    ) -> Result<CategoryCounts, AccountViewError> {
        let mut counts = CategoryCounts {
            skipped,
            ..CategoryCounts::default()
        };
        if incoming.is_empty() {
            // Nothing to write: no change position is taken for the cursor alone.
            let mut tx = self.store.begin().await?;
            storage::set_cursor_in(&mut tx, administration, category.slug(), after).await?;
            tx.commit().await?;
            return Ok(counts);
        }
        let mut tx = self.store.write(administration).await?;
        let codes: Vec<String> = incoming.iter().map(|row| row.code.clone()).collect();
        let stored = tx.records_by_codes(spec, &codes).await?;
        // A row that may only update (a blocked debtor) is skipped when its code is new, also when
        // an earlier row of the page is what would create it.
        let mut kept: HashSet<&str> = HashSet::with_capacity(incoming.len());
        let mut rows = Vec::with_capacity(incoming.len());
        for row in &incoming {
            if row.only_update && !stored.contains_key(&row.code) && !kept.contains(row.code.as_str()) {
                counts.skipped += 1;
                continue;
            }
            kept.insert(row.code.as_str());
            rows.push(row.values.clone());
        }
        for outcome in tx.upsert_by_code(spec, &stored, rows).await? {
            match outcome {
                Upserted::Created => counts.created += 1,
                Upserted::Updated => counts.updated += 1,
                Upserted::Unchanged => counts.unchanged += 1,
            }
        }
        storage::set_cursor_in(tx.tx(), administration, category.slug(), after).await?;
        tx.commit().await?;
        Ok(counts)
    }

    /// The payment status of exported invoices: per invoice number the sum of its open items in `GJ1`
    /// is what is still open; what was paid in AccountView and not yet in Koppel becomes a payment.
    async fn import_payments(
        &self,
        administration: AdministrationId,
        company: &str,
        step: &Step<'_>,
    ) -> Result<CategoryCounts, AccountViewError> {
        let mut counts = CategoryCounts::default();
        let exported = storage::exported(&self.store, administration).await?;
        for export in exported {
            step.report(ImportCategory::Payments, &counts).await;
            let query = ReadQuery {
                business_object: "GJ1",
                page_size: self.config.page_size,
                last_key: None,
                filters: vec![("INV_NR", "Equal", "C", export.invoice_number.clone())],
            };
            let page = self.read(administration, company, &query).await?;
            counts.pages += 1;
            let rows = page["TRANSACT"].as_array().cloned().unwrap_or_default();
            counts.fetched += rows.len() as u64;
            if rows.is_empty() {
                counts.unchanged += 1;
                continue;
            }
            let open = Money::checked_sum(rows.iter().map(|row| cents(row, "AMOUNT")));
            let mut tx = self.store.write(administration).await?;
            let invoice = tx.tx().get_record(administration, &INVOICES, export.invoice).await?;
            let total = Money::from_cents(invoice.get(&INVOICES, "total_incl_vat").as_i64().unwrap_or_default());
            let paid_in_koppel = Money::from_cents(invoice.get(&INVOICES, "paid_amount").as_i64().unwrap_or_default());
            // Open amounts beyond the money range are not this invoice's: leave its payments alone.
            let Ok(difference) = open
                .and_then(|open| total.checked_sub(open))
                .and_then(|paid_in_accountview| paid_in_accountview.checked_sub(paid_in_koppel))
                .map(Money::cents)
            else {
                tx.rollback().await?;
                tracing::warn!(
                    invoice.id = export.invoice.0,
                    "AccountView's open amount is out of range; payments left unchanged"
                );
                counts.unchanged += 1;
                continue;
            };
            if difference == 0 {
                tx.rollback().await?;
                counts.unchanged += 1;
                continue;
            }
            let mut values = vec![Value::Null; PAYMENTS.fields.len()];
            let mut set = |field: &str, value: Value| values[PAYMENTS.field_index(field)] = value;
            set("invoice_id", Value::Integer(export.invoice.0));
            set("amount", Value::Integer(difference));
            set("paid_on", Value::Date(self.store.now().date_naive()));
            set("method", Value::Text("bank".into()));
            set("reference", Value::Text("AccountView".into()));
            tx.insert(&PAYMENTS, values).await?;
            tx.commit().await?;
            counts.updated += 1;
        }
        Ok(counts)
    }
}

/// One imported record: its code, its values (a `None` keeps Koppel's value of a stored record), and
/// whether it may only update a record that exists.
struct Incoming {
    code: String,
    values: Vec<Option<Value>>,
    only_update: bool,
}

/// Whole values into an update that keeps what AccountView does not know (notes, say): empty fields
/// keep Koppel's value.
fn keeping_unknown(values: Vec<Value>) -> Vec<Option<Value>> {
    values
        .into_iter()
        .map(|value| if value.is_null() { None } else { Some(value) })
        .collect()
}

/// A debtor as a relation; blocked debtors become new relations only when the settings say so.
fn debtor(row: &Json, settings: &Settings) -> Incoming {
    let code = text(row, "SUB_NR");
    let blocked = flag(row, "REC_BLK");
    let name = text(row, "ACCT_NAME");
    let vat_number = text(row, "VAT_NR");
    let coc_number = text(row, "COC_CODE");
    let kind = if vat_number.is_empty() && coc_number.is_empty() && !looks_like_company(&name) {
        "person"
    } else {
        "company"
    };
    let mut values = vec![Value::Null; RELATIONS.fields.len()];
    let mut set = |field: &str, value: Value| values[RELATIONS.field_index(field)] = value;
    let optional = |text: String| {
        if text.is_empty() {
            Value::Null
        } else {
            Value::Text(text)
        }
    };
    set("code", Value::Text(code.clone()));
    set("name", Value::Text(truncate(&name, 200)));
    set("kind", Value::Text(kind.into()));
    set("email", optional(truncate(&text(row, "MAIL_BUS"), 254)));
    set("phone", optional(truncate(&text(row, "TEL_BUS"), 40)));
    set("vat_number", optional(truncate(&vat_number, 20)));
    set("coc_number", optional(truncate(&coc_number, 20)));
    set("blocked", Value::Bool(blocked));
    Incoming {
        code,
        values: keeping_unknown(values),
        only_update: blocked && !settings.import.include_blocked_debtors,
    }
}

/// An article (of a chosen group) as a material.
fn article(row: &Json, group: String, vat_rates: &HashMap<String, VatRate>) -> Incoming {
    let code = text(row, "ART_CODE");
    let unit = text(row, "UNIT");
    let vat = vat_rates.get(&text(row, "VAT_CODE")).copied().unwrap_or(VatRate::High);
    let mut values = vec![Value::Null; MATERIALS.fields.len()];
    let mut set = |field: &str, value: Value| values[MATERIALS.field_index(field)] = value;
    set("code", Value::Text(code.clone()));
    set("description", Value::Text(truncate(&text(row, "ART_DESC1"), 200)));
    set(
        "unit",
        Value::Text(if unit.is_empty() {
            "stuk".into()
        } else {
            truncate(&unit, 20)
        }),
    );
    set("price", Value::Integer(cents(row, "SALES_PX").cents()));
    set("cost_price", Value::Integer(cents(row, "COST_PX").cents()));
    set("vat_rate", Value::Text(vat.as_str().into()));
    set(
        "article_group",
        if group.is_empty() {
            Value::Null
        } else {
            Value::Text(truncate(&group, 40))
        },
    );
    set("blocked", Value::Bool(flag(row, "REC_BLK")));
    Incoming {
        code,
        values: keeping_unknown(values),
        only_update: false,
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

fn looks_like_company(name: &str) -> bool {
    let lower = name.to_lowercase();
    [
        " bv",
        " b.v.",
        " vof",
        " v.o.f.",
        "holding",
        "installatie",
        "café",
        "stichting",
        "gemeente",
    ]
    .iter()
    .any(|marker| lower.contains(marker))
}

/// The table and key field of a category's answer.
fn table_of(category: ImportCategory) -> (&'static str, &'static str) {
    match category {
        ImportCategory::VatCodes => ("VAT", "VAT_CODE"),
        ImportCategory::LedgerAccounts => ("LEDGER", "ACCT_NR"),
        ImportCategory::Journals => ("DAILY", "DJ_CODE"),
        ImportCategory::CostCentres => ("COST", "COST_CODE"),
        ImportCategory::ArticleGroups => ("ART_GRP", "AG_CODE"),
        ImportCategory::Debtors => ("CONTACT", "SUB_NR"),
        ImportCategory::Articles => ("ARTICLE", "ART_CODE"),
        ImportCategory::Payments => ("TRANSACT", "TRN_NR"),
    }
}

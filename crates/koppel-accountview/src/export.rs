//! `accountview_export`: completed work orders (the trigger status, completed after the cut-off)
//! become sales invoices in AccountView (`DJ2`), exactly once.
//!
//! Per work order: its Koppel invoice is made (or reused) and an intent row is written to the export
//! ledger before anything is posted; every POST is counted in that row before it is sent. When a POST
//! ends without a clear answer (timeout, dropped connection, 5xx) or a previous attempt may have
//! posted (a crash), the invoice is read back by `INV_NR` before trying again. A 409 on Koppel's own
//! invoice number whose amounts match counts as exported. Rate limits (with `Retry-After`), an
//! offline server and missing answers are retried with backoff inside the job, in every step of a
//! work order's export (reading back, creating a missing debtor, posting); when this run's retries
//! are spent the work order stays open and the job is retried later with the queue's backoff. Only
//! AccountView's own refusals (and Koppel's, such as an invoice without lines) are final: they move
//! only that work order to the export-error status, with AccountView's Dutch message verbatim; the
//! others go on. Success moves the work order to the status after export, in the transaction that
//! marks the ledger row exported.
//!
//! Work orders are exported side by side (`export_concurrency` at a time), each by one task, so no two
//! posts for one work order are ever in flight; the ledger is per work order, so a crash with several
//! posts in flight leaves each of them with a counted attempt and a read-back before any new post. All
//! calls of a run share one [`Pacer`]: evenly spaced at `rate_limit_per_minute`, and a 429 pauses every
//! task until its `Retry-After` has passed. Results come back to the run one by one, which records the
//! run's item log and progress as before.

use crate::api::{AccountViewApiError, Pacer, ReadQuery};
use crate::import::{Connected, cents, job_administration};
use crate::settings::{ExportSettings, Settings};
use crate::storage::{self, Candidates, ExportRecord, ExportState, ExportTarget};
use crate::{AccountView, AccountViewError};
use koppel_domain::resources::{INVOICE_LINES, INVOICES, RELATIONS, WORK_ORDERS};
use koppel_domain::{AdministrationId, Money, RecordId, UserId};
use koppel_jobs::runs::{ItemStatus, NewRunItem, RunMessage};
use koppel_jobs::{Enqueued, Job, JobContext, JobError, JobFuture, JobType, Outcome, Scope};
use koppel_store::{Store, StoreError};
use serde::Serialize;
use serde_json::{Value as Json, json};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::task::JoinSet;

pub const KIND: &str = "accountview_export";

/// Koppel's invoice numbers travel with this prefix, so they never collide with numbers AccountView
/// hands out itself (`INV_NR` holds 12 characters: `KP2026-00001`).
pub const INVOICE_NUMBER_PREFIX: &str = "KP";

const PAYMENT_TERM_DAYS: i64 = 30;
const BATCH: u32 = 200;

/// Enqueues an export now, joining one that is queued or running.
pub async fn enqueue(
    store: &Store,
    administration: AdministrationId,
    user: Option<UserId>,
) -> Result<Enqueued, StoreError> {
    let mut job = ExportJob::job(Some(administration), json!({}));
    if let Some(user) = user {
        job = job.manual(user);
    }
    koppel_jobs::enqueue_committed(store, &job).await
}

/// What an export run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportCounts {
    pub exported: u64,
    /// Found in AccountView already (read back or 409 with matching amounts).
    pub confirmed: u64,
    pub failed: u64,
    /// Still open after the retries of this run; the next attempt goes on with them.
    pub pending: u64,
    pub posts: u64,
    pub read_backs: u64,
}

/// How the export of one work order ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    Exported,
    AlreadyThere,
    /// AccountView (or Koppel's own check) refused it; the reason as users read it.
    Refused(RunMessage, String),
    /// Still unclear after the retries (AccountView offline for long).
    Pending(String),
}

/// The job kind; register it in the worker's registry.
pub struct ExportJob {
    pub accountview: AccountView,
}

impl JobType for ExportJob {
    const KIND: &'static str = KIND;
    /// "Export now" and the scheduled export join the one that is queued or running.
    const DEDUPLICATED: bool = true;
    const SCHEDULE: Option<Scope> = Some(Scope::Among(&Connected));
}

impl Job for ExportJob {
    fn run<'a>(&'a self, context: &'a JobContext) -> JobFuture<'a> {
        Box::pin(async move {
            let administration = job_administration(context)?;
            let counts = self.accountview.export(administration, Some(context)).await?;
            let message = RunMessage::new(
                format!(
                    "Export naar AccountView: {} geëxporteerd, {} al aanwezig, {} mislukt, {} nog open.",
                    counts.exported, counts.confirmed, counts.failed, counts.pending
                ),
                format!(
                    "Export to AccountView: {} exported, {} already there, {} failed, {} still open.",
                    counts.exported, counts.confirmed, counts.failed, counts.pending
                ),
            );
            if counts.pending > 0 {
                // Try again later with backoff; the ledger keeps what was done.
                return Err(JobError::transient(anyhow::anyhow!(
                    "{} work orders could not be confirmed in AccountView yet",
                    counts.pending
                )));
            }
            let outcome = Outcome::done().counts(json!(counts)).message(message);
            Ok(if counts.failed > 0 { outcome.partial() } else { outcome })
        })
    }
}

/// One invoice as posted: the DJ2 body, and what to compare when reading it back.
struct Posting {
    body: Json,
    invoice_number: String,
    debtor: String,
    total_excl_vat: Money,
    total_vat: Money,
}

impl AccountView {
    /// Exports every ready work order of an administration.
    pub async fn export(
        &self,
        administration: AdministrationId,
        context: Option<&JobContext>,
    ) -> Result<ExportCounts, AccountViewError> {
        let connection = self.live_connection(administration).await?;
        let settings = Settings::of(&connection).export;
        let company = connection.company.expect("a live connection has a company").id;
        let mut counts = ExportCounts::default();
        if !settings.enabled {
            return Ok(counts);
        }
        let cut_off = settings.cut_off.unwrap_or(connection.connected_at);
        // The total is counted once; work orders completed meanwhile raise it as they are reached.
        let mut total =
            storage::count_export_candidates(&self.store, administration, settings.trigger_status, cut_off).await?;
        if let Some(context) = context {
            let _ = context
                .progress(0, Some(i64::try_from(total).unwrap_or(i64::MAX)), Some(&json!(counts)))
                .await;
        }
        let run = Arc::new(ExportRun {
            accountview: self.clone(),
            administration,
            pacer: Pacer::new(self.config.rate_limit_per_minute),
            ledger: tokio::sync::Mutex::new(()),
            company,
            settings,
        });
        let concurrency = self.config.export_concurrency.max(1);
        let mut in_flight = JoinSet::new();
        let mut ready = VecDeque::new();
        let mut after = RecordId(0);
        let mut all_listed = false;
        let mut failure = None;
        loop {
            // Start work orders while there is room; stop starting after a failure or a cancel, but
            // let those in flight finish and be recorded.
            while failure.is_none() && in_flight.len() < concurrency && !context.is_some_and(JobContext::is_cancelled) {
                if ready.is_empty() && !all_listed {
                    let query = Candidates {
                        status: run.settings.trigger_status,
                        completed_since: cut_off,
                        after,
                        limit: BATCH,
                    };
                    let batch = storage::export_candidates(&self.store, administration, query).await?;
                    match batch.last() {
                        Some(last) => after = *last,
                        None => all_listed = true,
                    }
                    ready.extend(batch);
                }
                let Some(work_order) = ready.pop_front() else { break };
                let run = Arc::clone(&run);
                in_flight.spawn(async move {
                    let mut calls = Calls::default();
                    let outcome = run.export_one(work_order, &mut calls).await;
                    (work_order, outcome, calls)
                });
            }
            let Some(finished) = in_flight.join_next().await else {
                break;
            };
            let (work_order, outcome, calls) = match finished {
                Ok(finished) => finished,
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                // Tasks are only cancelled by dropping the set, which ends this function first.
                Err(_) => continue,
            };
            counts.posts += calls.posts;
            counts.read_backs += calls.read_backs;
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(error) => {
                    failure.get_or_insert(error);
                    continue;
                }
            };
            let key = format!("work-orders/{}", work_order.0);
            let (status, message, detail) = match &outcome {
                ItemOutcome::Exported => {
                    counts.exported += 1;
                    (ItemStatus::Succeeded, None, None)
                }
                ItemOutcome::AlreadyThere => {
                    counts.confirmed += 1;
                    (ItemStatus::Succeeded, None, None)
                }
                ItemOutcome::Refused(message, detail) => {
                    counts.failed += 1;
                    (ItemStatus::Failed, Some(message.clone()), Some(detail.clone()))
                }
                ItemOutcome::Pending(detail) => {
                    counts.pending += 1;
                    (ItemStatus::Skipped, None, Some(detail.clone()))
                }
            };
            if let Some(context) = context {
                let item = NewRunItem {
                    key: &key,
                    status,
                    message,
                    detail: detail.as_deref(),
                };
                koppel_jobs::runs::record_item(&self.store, context.job().run_id, &item).await?;
                // Progress per work order: one POST to AccountView takes far longer than this
                // update, and a user watching a long export sees it move.
                let handled = counts.exported + counts.confirmed + counts.failed + counts.pending;
                total = total.max(handled);
                let done = i64::try_from(handled).unwrap_or(i64::MAX);
                let of = i64::try_from(total).unwrap_or(i64::MAX);
                if let Err(error) = context.progress(done, Some(of), Some(&json!(counts))).await {
                    tracing::warn!(run.id = context.job().run_id.0, error = %error, "could not record the export's progress");
                }
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(counts),
        }
    }
}

/// The calls one work order's export made, for the run's counts.
#[derive(Debug, Default)]
struct Calls {
    posts: u64,
    read_backs: u64,
}

/// What the work orders of one export run share: the connection's company and settings, and the
/// pacer all their calls go through.
struct ExportRun {
    accountview: AccountView,
    administration: AdministrationId,
    company: String,
    settings: ExportSettings,
    pacer: Pacer,
    /// Taken around the run's writes to the ledger. They queue in the store anyway (one writer per
    /// administration: a row lock on PostgreSQL, the database lock on SQLite); queuing here instead
    /// keeps SQLite from busy-polling with every task at once.
    ledger: tokio::sync::Mutex<()>,
}

impl ExportRun {
    /// Exports one work order, exactly once.
    async fn export_one(&self, work_order: RecordId, calls: &mut Calls) -> Result<ItemOutcome, AccountViewError> {
        let (accountview, administration, settings) = (&self.accountview, self.administration, &self.settings);
        let store = &accountview.store;
        let ledger = self.ledger.lock().await;
        let mut tx = store.write(administration).await?;
        let target = ExportTarget {
            company_id: &self.company,
            invoice_number_prefix: INVOICE_NUMBER_PREFIX,
            payment_term_days: PAYMENT_TERM_DAYS,
        };
        let (export, invoice) = storage::open_export(&mut tx, work_order, target).await?;
        tx.commit().await?;
        drop(ledger);
        if export.state == ExportState::Exported {
            return Ok(ItemOutcome::AlreadyThere);
        }
        let posting = match self.posting(&export, &invoice).await? {
            Ok(posting) => posting,
            Err(Refusal { message, detail }) => {
                return self.refuse(work_order, message, detail.into()).await;
            }
        };
        let mut may_exist = export.post_attempts > 0;
        let mut retries = 0;
        let mut refreshed = false;
        let mut debtor_checked = !settings.create_missing_debtors;
        loop {
            if may_exist {
                calls.read_backs += 1;
                match self.read_back(&posting).await {
                    Ok(Some(true)) => {
                        let _ledger = self.ledger.lock().await;
                        storage::export_done(store, administration, work_order, settings.done_status).await?;
                        return Ok(ItemOutcome::AlreadyThere);
                    }
                    Ok(Some(false)) => return self.foreign_number(work_order, &posting).await,
                    Ok(None) => {}
                    Err(AccountViewError::Api(error)) if error.is_retryable() => {
                        if retries >= accountview.config.max_retries {
                            return Ok(ItemOutcome::Pending(error.to_string()));
                        }
                        self.wait_before_retry(&error, retries).await;
                        retries += 1;
                        continue;
                    }
                    Err(error) => return Err(error),
                }
            }
            if !debtor_checked {
                // A transient failure here is retried like the invoice's own POST (and, once this
                // run's retries are spent, by the job's retry with backoff): posting the invoice
                // for a debtor that could not be created would only get it refused for good.
                match self.ensure_debtor(&posting.debtor, work_order).await {
                    Ok(Debtor::Present) => debtor_checked = true,
                    Ok(Debtor::Refused(message)) => {
                        let debtor = &posting.debtor;
                        let reason = RunMessage::new(
                            format!("AccountView weigerde debiteur {debtor} aan te maken: {message}"),
                            format!("AccountView refused to create debtor {debtor}: {message}"),
                        );
                        return self.refuse(work_order, reason, message).await;
                    }
                    Err(AccountViewError::Api(error)) if error.is_retryable() => {
                        if retries >= accountview.config.max_retries {
                            return Ok(ItemOutcome::Pending(format!("creating debtor: {error}")));
                        }
                        self.wait_before_retry(&error, retries).await;
                        retries += 1;
                        continue;
                    }
                    Err(error) => return Err(error),
                }
            }
            let token = accountview.access_token(administration).await?;
            {
                let _ledger = self.ledger.lock().await;
                storage::export_posting(store, administration, work_order).await?;
            }
            // Last before sending, so a pause for a 429 that began meanwhile holds this post too.
            self.pacer.admit().await;
            calls.posts += 1;
            match accountview.api.write(&token.secret, &self.company, &posting.body).await {
                Ok(_) => {
                    let _ledger = self.ledger.lock().await;
                    storage::export_done(store, administration, work_order, settings.done_status).await?;
                    return Ok(ItemOutcome::Exported);
                }
                Err(AccountViewApiError::Rejected {
                    status: 409, numbers, ..
                }) if numbers.contains(&2201) => {
                    // The number is taken: by this invoice (an earlier post went through) or by another.
                    may_exist = true;
                }
                Err(AccountViewApiError::Rejected { message, .. }) => {
                    let reason = RunMessage::new(
                        format!("AccountView weigerde de factuur: {message}"),
                        format!("AccountView refused the invoice: {message}"),
                    );
                    return self.refuse(work_order, reason, message).await;
                }
                Err(AccountViewApiError::Unauthorized) if !refreshed => {
                    refreshed = true;
                    storage::expire_access(store, administration, token.version).await?;
                    // A 401 means nothing was stored; no read-back needed.
                }
                Err(AccountViewApiError::Forbidden { message }) => {
                    return Err(AccountViewError::Api(AccountViewApiError::Forbidden { message }));
                }
                Err(error) if error.is_retryable() => {
                    may_exist = may_exist || error.is_ambiguous();
                    if retries >= accountview.config.max_retries {
                        return Ok(ItemOutcome::Pending(error.to_string()));
                    }
                    self.wait_before_retry(&error, retries).await;
                    retries += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Waits before retry number `retries`: a 429 pauses every call of the run until its
    /// `Retry-After` has passed (the next call waits for it in the pacer); other failures wait
    /// with exponential backoff and jitter, this work order only.
    async fn wait_before_retry(&self, error: &AccountViewApiError, retries: u32) {
        match error {
            AccountViewApiError::RateLimited { retry_after } => {
                tracing::debug!(
                    administration.id = %self.administration,
                    delay_ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
                    "AccountView rate limit: pausing the export's calls"
                );
                self.pacer.pause(*retry_after);
            }
            _ => self.accountview.wait_before_retry(error, retries).await,
        }
    }

    async fn refuse(
        &self,
        work_order: RecordId,
        message: RunMessage,
        detail: String,
    ) -> Result<ItemOutcome, AccountViewError> {
        let _ledger = self.ledger.lock().await;
        storage::export_failed(&self.accountview.store, self.administration, work_order, &message.nl).await?;
        Ok(ItemOutcome::Refused(message, detail))
    }

    async fn foreign_number(&self, work_order: RecordId, posting: &Posting) -> Result<ItemOutcome, AccountViewError> {
        let number = &posting.invoice_number;
        let message = RunMessage::new(
            format!(
                "Factuurnummer {number} is in AccountView al gebruikt voor een andere factuur (bedragen wijken af)."
            ),
            format!("Invoice number {number} is already used in AccountView for another invoice (amounts differ)."),
        );
        self.refuse(work_order, message, "Document-/factuurnummer is al in gebruik".into())
            .await
    }

    /// Reads an invoice back by number: `None` when it is not there, `Some(true)` when it is there
    /// with this debtor and these amounts, `Some(false)` when the number holds something else.
    async fn read_back(&self, posting: &Posting) -> Result<Option<bool>, AccountViewError> {
        let query = ReadQuery {
            business_object: "DJ2P",
            page_size: 100,
            last_key: None,
            filters: vec![("INV_NR", "Equal", "C", posting.invoice_number.clone())],
        };
        let answer = self.read_once(&query).await?;
        let pages = answer["DJ_PAGE"].as_array().cloned().unwrap_or_default();
        if pages.is_empty() {
            return Ok(None);
        }
        let lines = answer["DJ_LINE"].as_array().cloned().unwrap_or_default();
        let matches = pages.iter().any(|page| {
            let id = &page["DJ_PAGE_Id"];
            let own: Vec<&Json> = lines.iter().filter(|line| &line["DJ_PAGE_Id"] == id).collect();
            // Amounts beyond Koppel's range cannot be Koppel's invoice.
            let excl = Money::checked_sum(own.iter().map(|line| cents(line, "AMOUNT")));
            let vat = Money::checked_sum(own.iter().map(|line| cents(line, "VAT_AMT")));
            page["SUB_NR"].as_str().map(str::trim) == Some(posting.debtor.as_str())
                && excl == Ok(posting.total_excl_vat)
                && vat == Ok(posting.total_vat)
        });
        Ok(Some(matches))
    }

    /// A read without the retry loop (the export's own loop retries), paced like every call.
    async fn read_once(&self, query: &ReadQuery) -> Result<Json, AccountViewError> {
        let (accountview, administration, company) = (&self.accountview, self.administration, &self.company);
        let token = accountview.access_token(administration).await?;
        self.pacer.admit().await;
        match accountview.api.read(&token.secret, company, query).await {
            Err(AccountViewApiError::Unauthorized) => {
                storage::expire_access(&accountview.store, administration, token.version).await?;
                let token = accountview.access_token(administration).await?;
                self.pacer.admit().await;
                Ok(accountview.api.read(&token.secret, company, query).await?)
            }
            other => Ok(other?),
        }
    }

    /// Creates the debtor in AccountView when it is missing and the user allowed that. Asks first,
    /// so after an ambiguous failure (the debtor may have been stored) a retry finds it instead of
    /// creating it twice. Transient failures come back as errors for the caller's retry loop; only
    /// AccountView's own refusal is an answer.
    async fn ensure_debtor(&self, debtor: &str, work_order: RecordId) -> Result<Debtor, AccountViewError> {
        let (accountview, administration) = (&self.accountview, self.administration);
        let query = ReadQuery {
            business_object: "AR1",
            page_size: 1,
            last_key: None,
            filters: vec![("SUB_NR", "Equal", "C", debtor.to_string())],
        };
        let found = self.read_once(&query).await?;
        if found["CONTACT"].as_array().is_some_and(|rows| !rows.is_empty()) {
            return Ok(Debtor::Present);
        }
        let mut tx = accountview.store.snapshot().await?;
        let order = tx.get_record(administration, &WORK_ORDERS, work_order).await?;
        let relation_id = RecordId(order.get(&WORK_ORDERS, "relation_id").as_i64().unwrap_or_default());
        let relation = tx.get_record(administration, &RELATIONS, relation_id).await?;
        tx.rollback().await?;
        let field = |name: &str| relation.get(&RELATIONS, name).as_str().unwrap_or_default().to_string();
        let body = json!({
            "BusinessObject": "AR1",
            "Table": {"Definition": {"Name": "CONTACT", "Fields": [
                {"Name": "SUB_NR", "FieldType": "C"},
                {"Name": "ACCT_NAME", "FieldType": "C"},
                {"Name": "MAIL_BUS", "FieldType": "C"},
                {"Name": "VAT_NR", "FieldType": "C"},
                {"Name": "COC_CODE", "FieldType": "C"}
            ]}},
            "TableData": {"Data": {"Rows": [{"RowId": "1", "Values": [
                debtor, truncate(&field("name"), 50), truncate(&field("email"), 100),
                truncate(&field("vat_number"), 20), truncate(&field("coc_number"), 20)
            ]}]}}
        });
        let mut refreshed = false;
        loop {
            let token = accountview.access_token(administration).await?;
            self.pacer.admit().await;
            match accountview.api.write(&token.secret, &self.company, &body).await {
                // 409: the number is taken, by this debtor created a moment ago or by another.
                Ok(_) | Err(AccountViewApiError::Rejected { status: 409, .. }) => return Ok(Debtor::Present),
                Err(AccountViewApiError::Rejected { message, .. }) => return Ok(Debtor::Refused(message)),
                Err(AccountViewApiError::Unauthorized) if !refreshed => {
                    // A 401 means nothing was stored: refresh the token once and send again.
                    refreshed = true;
                    storage::expire_access(&accountview.store, administration, token.version).await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// The DJ2 body of a work order's invoice, or why it cannot be made (a mapping is missing).
    async fn posting(
        &self,
        export: &ExportRecord,
        invoice: &koppel_store::records::StoredRecord,
    ) -> Result<Result<Posting, Refusal>, AccountViewError> {
        let (administration, settings) = (self.administration, &self.settings);
        let mut tx = self.accountview.store.snapshot().await?;
        let lines = tx.children(administration, &INVOICE_LINES, invoice.id).await?;
        if lines.is_empty() {
            // AccountView would take a journal page without lines (or refuse it in its own words);
            // either way nothing is invoiced, so Koppel refuses it here and says why.
            tx.rollback().await?;
            return Ok(Err(Refusal::new(
                RunMessage::new(
                    "De factuur heeft geen regels (geen uren of materialen op de werkbon) en is niet naar AccountView gestuurd.",
                    "The invoice has no lines (no hours or materials on the work order) and was not sent to AccountView.",
                ),
                "invoice without lines",
            )));
        }
        let relation_id = RecordId(invoice.get(&INVOICES, "relation_id").as_i64().unwrap_or_default());
        let relation = tx.get_record(administration, &RELATIONS, relation_id).await?;
        let order = tx.get_record(administration, &WORK_ORDERS, export.work_order).await?;
        tx.rollback().await?;
        let debtor = relation
            .get(&RELATIONS, "code")
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (Some(journal), Some(hours_account), Some(materials_account)) = (
            settings.sales_journal.as_deref(),
            settings.hours_account.as_deref(),
            settings.materials_account.as_deref(),
        ) else {
            return Ok(Err(Refusal::new(
                RunMessage::new(
                    "Het verkoopdagboek of een omzetrekening is niet ingesteld.",
                    "The sales journal or a revenue account is not set.",
                ),
                "mapping incomplete",
            )));
        };
        let cost_centre = settings.cost_centre.clone().filter(|c| !c.is_empty());
        let mut rows = Vec::new();
        let (mut excl, mut vat) = (Money::ZERO, Money::ZERO);
        for (index, line) in lines.iter().enumerate() {
            let field = |name: &str| line.get(&INVOICE_LINES, name);
            let rate = field("vat_rate").as_str().unwrap_or_default().to_string();
            let Some(vat_code) = settings.vat_codes.get(&rate) else {
                return Ok(Err(Refusal::new(
                    RunMessage::new(
                        format!("Er is geen AccountView-btw-code gekoppeld aan btw-tarief {rate}."),
                        format!("No AccountView VAT code is mapped to VAT rate {rate}."),
                    ),
                    "mapping incomplete",
                )));
            };
            let account = if field("kind").as_str() == Some("material") {
                materials_account
            } else {
                hours_account
            };
            let amount = Money::from_cents(field("amount_excl_vat").as_i64().unwrap_or_default());
            let line_vat = Money::from_cents(field("vat_amount").as_i64().unwrap_or_default());
            let (Ok(new_excl), Ok(new_vat)) = (excl.checked_add(amount), vat.checked_add(line_vat)) else {
                return Ok(Err(Refusal::new(
                    RunMessage::new(
                        "De factuurregels tellen niet op tot het factuurtotaal.",
                        "The invoice lines do not add up to the invoice total.",
                    ),
                    "invoice lines out of range",
                )));
            };
            (excl, vat) = (new_excl, new_vat);
            rows.push(json!({
                "RowId": (index + 1).to_string(),
                "HeaderId": "1",
                "Values": [
                    account, number(amount), number(amount), vat_code, number(line_vat),
                    truncate(field("description").as_str().unwrap_or_default(), 40),
                    cost_centre.clone()
                ]
            }));
        }
        // The invoice balances: its lines and VAT add up to what Koppel invoiced.
        let total = invoice.get(&INVOICES, "total_incl_vat").as_i64().unwrap_or_default();
        if excl.cents() + vat.cents() != total
            || excl.cents() != export.total_excl_vat_cents
            || vat.cents() != export.total_vat_cents
        {
            return Ok(Err(Refusal::new(
                RunMessage::new(
                    "De factuurregels tellen niet op tot het factuurtotaal.",
                    "The invoice lines do not add up to the invoice total.",
                ),
                "invoice does not balance",
            )));
        }
        let date = invoice
            .get(&INVOICES, "invoice_date")
            .as_date()
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let description = format!(
            "Werkbon {}",
            order.get(&WORK_ORDERS, "number").as_str().unwrap_or_default()
        );
        let body = json!({
            "BusinessObject": "DJ2",
            "Table": {
                "Definition": {"Name": "DJ_PAGE", "Fields": [
                    {"Name": "DJ_CODE", "FieldType": "C"},
                    {"Name": "SUB_NR", "FieldType": "C"},
                    {"Name": "INV_NR", "FieldType": "C"},
                    {"Name": "TRN_DATE", "FieldType": "D"},
                    {"Name": "HDR_DESC", "FieldType": "C"},
                    {"Name": "CUR_CODE", "FieldType": "C"}
                ]},
                "DetailDefinitions": [{"Name": "DJ_LINE", "Fields": [
                    {"Name": "ACCT_NR", "FieldType": "C"},
                    {"Name": "AMOUNT", "FieldType": "N"},
                    {"Name": "BASE_AMT", "FieldType": "N"},
                    {"Name": "VAT_CODE", "FieldType": "C"},
                    {"Name": "VAT_AMT", "FieldType": "N"},
                    {"Name": "TRN_DESC", "FieldType": "C"},
                    {"Name": "COST_CODE", "FieldType": "C"}
                ]}]
            },
            "TableData": {
                "Data": {"Rows": [{"RowId": "1", "Values": [
                    journal, debtor, export.invoice_number, date, truncate(&description, 40), "EUR"
                ]}]},
                "DetailData": [{"Rows": rows}]
            }
        });
        Ok(Ok(Posting {
            body,
            invoice_number: export.invoice_number.clone(),
            debtor,
            total_excl_vat: excl,
            total_vat: vat,
        }))
    }
}

/// Why Koppel itself will not post an invoice: what users read, and a short note for operators.
struct Refusal {
    message: RunMessage,
    detail: &'static str,
}

impl Refusal {
    fn new(message: RunMessage, detail: &'static str) -> Refusal {
        Refusal { message, detail }
    }
}

/// Whether the invoice's debtor is in AccountView (after creating it when allowed).
enum Debtor {
    Present,
    /// AccountView refused to create it; its own message.
    Refused(String),
}

/// An amount as the JSON number AccountView wants, from its exact decimal text.
fn number(amount: Money) -> Json {
    let text = amount.to_string();
    serde_json::from_str::<Json>(&text).unwrap_or(Json::Null)
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

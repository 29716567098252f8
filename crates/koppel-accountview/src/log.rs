//! The integration's log: the runs of both job kinds (`accountview_import` and
//! `accountview_export`) of an administration, newest first, each with its failed items, where
//! AccountView's own message is kept verbatim. The REST API and the log panel of the settings page
//! both read it here.

use crate::{export, import};
use koppel_domain::AdministrationId;
use koppel_jobs::RunId;
use koppel_jobs::runs::{self, ItemStatus, Run, RunFilter, RunItem, RunStatus};
use koppel_store::{Store, StoreError};

/// Failed items shown per run in the log.
const FAILED_ITEMS: u32 = 50;

/// Which runs the log shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFilter {
    All,
    /// Only runs that failed or partially succeeded.
    Errors,
}

/// One page of the log: which runs, and where it starts.
#[derive(Debug, Clone, Copy)]
pub struct LogQuery {
    pub filter: LogFilter,
    /// Keyset cursor: only runs with a smaller id.
    pub before: Option<RunId>,
    pub limit: u32,
}

/// One run of the log with its failed items.
pub struct LogEntry {
    pub run: Run,
    pub failed: Vec<RunItem>,
}

/// A page of the log, newest first.
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    pub next_before: Option<RunId>,
}

/// The runs of both AccountView kinds, newest first, merged by id (keyset paging on the id).
pub async fn page(store: &Store, administration: AdministrationId, query: LogQuery) -> Result<LogPage, StoreError> {
    let statuses: Vec<Option<RunStatus>> = match query.filter {
        LogFilter::Errors => vec![Some(RunStatus::Failed), Some(RunStatus::PartiallySucceeded)],
        LogFilter::All => vec![None],
    };
    let limit = query.limit;
    let mut runs: Vec<Run> = Vec::new();
    for kind in [import::KIND, export::KIND] {
        for status in &statuses {
            let filter = RunFilter {
                kind: Some(kind.to_string()),
                status: *status,
                before: query.before,
                limit,
                ..RunFilter::default()
            };
            let page = runs::list(store, administration, &filter).await?;
            runs.extend(page.runs);
        }
    }
    runs.sort_by_key(|run| std::cmp::Reverse(run.id));
    let next_before = if runs.len() > limit as usize {
        runs.truncate(limit as usize);
        runs.last().map(|run| run.id)
    } else {
        None
    };
    let mut entries = Vec::with_capacity(runs.len());
    for run in runs {
        let failed = if matches!(run.status, RunStatus::Failed | RunStatus::PartiallySucceeded) {
            runs::items(store, administration, run.id, None, FAILED_ITEMS)
                .await?
                .items
                .into_iter()
                .filter(|item| item.status == ItemStatus::Failed)
                .collect()
        } else {
            Vec::new()
        };
        entries.push(LogEntry { run, failed });
    }
    Ok(LogPage { entries, next_before })
}

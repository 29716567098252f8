//! Data Sync for Power BI, without HTTP, with its own SQL (written with the store's toolkit,
//! `koppel_store::sql`):
//!
//! - the reporting dataset: what it copies and its tables ([`dataset`]), the sync that keeps it
//!   current, incremental or in full ([`engine`], [`full`]), crash-test faults ([`faults`]), the
//!   administration's state, Autosync setting and pruning ([`state`]), feed tokens ([`tokens`]);
//! - the feed: the dataset as Power BI sees it ([`feed`]), OData queries into SQL ([`query`]), reads
//!   of reporting rows ([`rows`]) and the reads the web serves, pinned and paged ([`read`]);
//! - background work: the `data_sync` job ([`job`]) and the Autosync scheduler ([`autosync`]).
//!
//! The web crate serves the feed and the pages on top of this crate and never sees its SQL; the
//! migrations of the reporting tables stay with the store's other migrations.

pub mod autosync;
pub mod dataset;
pub mod engine;
pub mod faults;
pub mod feed;
mod full;
pub mod job;
pub mod query;
pub mod read;
pub mod rows;
pub mod state;
pub mod tokens;

use koppel_domain::{AdministrationId, UserId};
use koppel_jobs::{Enqueued, JobType, NewJob};
use koppel_store::{Store, StoreError};

pub use job::{DataSync, KIND};

/// The operator's Data Sync settings (`[datasync]` in the configuration), handed to the job kind,
/// Autosync and the web.
#[derive(Debug, Clone)]
pub struct DataSyncConfig {
    /// How often Autosync runs a sync for an administration that has it on.
    pub autosync_interval: std::time::Duration,
    /// How long replaced versions stay readable, so a Power BI refresh that pins a snapshot can
    /// finish paging; longer than the longest refresh (Power BI allows 2 h, 5 h on Premium).
    pub retention: chrono::Duration,
}

impl Default for DataSyncConfig {
    fn default() -> Self {
        DataSyncConfig {
            autosync_interval: std::time::Duration::from_secs(15 * 60),
            retention: chrono::Duration::hours(6),
        }
    }
}

/// A sync started by a user: incremental, or everything again with `full`.
pub fn manual_job(administration: AdministrationId, user: UserId, full: bool) -> NewJob {
    DataSync::job(Some(administration), serde_json::json!({ "full": full })).manual(user)
}

/// Enqueues a manual sync, or joins the one that is queued or running.
pub async fn sync_now(
    store: &Store,
    administration: AdministrationId,
    user: UserId,
    full: bool,
) -> Result<Enqueued, StoreError> {
    koppel_jobs::enqueue_committed(store, &manual_job(administration, user, full)).await
}

/// The feed's name in URLs and as the HTTP Basic user name: `koppel-<administration id>`.
pub fn feed_name(administration: AdministrationId) -> String {
    format!("koppel-{}", administration.0)
}

/// The administration a feed name denotes.
pub fn parse_feed_name(name: &str) -> Option<AdministrationId> {
    let id: i64 = name.strip_prefix("koppel-")?.parse().ok()?;
    (id > 0 && name == feed_name(AdministrationId(id))).then_some(AdministrationId(id))
}

/// The paste-ready Power Query M for a feed URL: the plain import (see powerbi-feed.md). It works
/// as pasted, without parameters; [`power_query_incremental_m`] is the variant for incremental refresh.
pub fn power_query_m(feed_url: &str) -> String {
    power_query_import_m(feed_url)
}

/// The Power Query M that imports the WorkOrders table of a feed as it is.
pub fn power_query_import_m(feed_url: &str) -> String {
    format!(
        "let\n    Source = {},\n    WorkOrders = {}\nin\n    WorkOrders",
        odata_feed_call(feed_url),
        WORK_ORDERS_STEP
    )
}

/// The Power Query M for incremental refresh: the WorkOrders table filtered on `ModifiedAt` (every
/// entity set has it, UTC, indexed) between `RangeStart` and `RangeEnd`, a filter that folds into the
/// feed's URL. `RangeStart` and `RangeEnd` are Date/Time parameters the report builder creates in
/// Power BI Desktop first (Manage Parameters); without them this M does not evaluate.
pub fn power_query_incremental_m(feed_url: &str) -> String {
    format!(
        "let\n    Source = {},\n    WorkOrders = {},\n    Filtered = Table.SelectRows(WorkOrders, each [ModifiedAt] >= DateTimeZone.From(RangeStart) and [ModifiedAt] < DateTimeZone.From(RangeEnd))\nin\n    Filtered",
        odata_feed_call(feed_url),
        WORK_ORDERS_STEP
    )
}

const WORK_ORDERS_STEP: &str = "Source{[Name=\"WorkOrders\", Signature=\"table\"]}[Data]";

fn odata_feed_call(feed_url: &str) -> String {
    format!(
        "OData.Feed(\"{feed_url}\", null, [Implementation=\"2.0\", ODataVersion=4, OmitValues=ODataOmitValues.Nulls])"
    )
}

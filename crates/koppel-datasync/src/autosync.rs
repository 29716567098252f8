//! Autosync: which administrations get automatic syncs. Switching Autosync on writes a `data_sync`
//! schedule for the administration, due at once (and off removes it), in the same transaction as
//! the setting. The generic scheduler of `koppel-jobs` fires the schedules like any other periodic
//! work, at the operator's interval (`datasync.autosync_interval_seconds`); this module only names
//! the administrations that opted in and holds a period back while the Power BI licence has lapsed.

use koppel_domain::AdministrationId;
use koppel_domain::licence::PowerUp;
use koppel_jobs::{Audience, AudienceFuture};
use koppel_store::sql::on_pool;
use koppel_store::{Store, StoreError};

/// The administrations that switched Autosync on: the audience of the `data_sync` schedule.
pub struct Autosync;

impl Audience for Autosync {
    fn name(&self) -> &'static str {
        "autosync"
    }

    fn administrations<'a>(&'a self, store: &'a Store) -> AudienceFuture<'a, Vec<AdministrationId>> {
        Box::pin(async move {
            let ids: Vec<i64> = on_pool!(store.pool(), pool => sqlx::query_scalar(
                "SELECT administration_id FROM datasync_state WHERE autosync ORDER BY administration_id",
            )
            .fetch_all(pool)
            .await)?;
            Ok(ids.into_iter().map(AdministrationId).collect())
        })
    }

    /// While the Power BI licence has lapsed the schedule waits instead of producing a failed run
    /// every period; it fires once when the licence is active again.
    fn may_fire<'a>(&'a self, store: &'a Store, administration: AdministrationId) -> AudienceFuture<'a, bool> {
        Box::pin(async move {
            let environment = store.administration(administration).await?.environment_id;
            match store.require_licence(environment, PowerUp::PowerBi).await {
                Ok(()) => Ok(true),
                Err(StoreError::Licence(_)) => Ok(false),
                Err(other) => Err(other),
            }
        })
    }
}

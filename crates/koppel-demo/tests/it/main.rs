//! Integration tests of the demo data: the realistic group and the scaled benchmark load, each on
//! SQLite always and on PostgreSQL when `KOPPEL_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)] // a test that cannot read what it set up should stop there

mod database;
mod group;
mod scale;

use koppel_domain::AdministrationId;
use koppel_domain::record::ResourceSpec;
use koppel_store::Store;
use koppel_store::records::{ListQuery, StoredRecord};

/// Every record of a resource in an administration, paging through the list like an API client.
pub async fn all_records(store: &Store, administration: AdministrationId, spec: &ResourceSpec) -> Vec<StoredRecord> {
    let mut records = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_records(
                administration,
                spec,
                &ListQuery {
                    after,
                    limit: 1_000,
                    ..ListQuery::default()
                },
            )
            .await
            .expect("list records");
        records.extend(page.records);
        match page.next_after {
            Some(next) => after = Some(next),
            None => return records,
        }
    }
}

//! Helpers: records from JSON, and the reporting dataset read back at a sync.

use koppel_datasync::feed::feed;
use koppel_datasync::rows::ReportingRead;
use koppel_datasync::rows::SqlPiece;
use koppel_domain::record::{ResourceSpec, Value, parse_create};
use koppel_domain::{AdministrationId, RecordId};
use koppel_store::Store;
use serde_json::Value as Json;

pub async fn create(store: &Store, administration: AdministrationId, spec: &ResourceSpec, body: Json) -> RecordId {
    let values = parse_create(spec, &body).unwrap_or_else(|errors| panic!("{}: {errors:?}", spec.slug));
    store
        .create_record(administration, spec, values)
        .await
        .unwrap_or_else(|error| panic!("create {}: {error}", spec.slug))
        .id
}

pub async fn relation(store: &Store, administration: AdministrationId, code: &str, name: &str) -> RecordId {
    create(
        store,
        administration,
        &koppel_domain::resources::RELATIONS,
        serde_json::json!({"code": code, "name": name, "kind": "company"}),
    )
    .await
}

/// Every row of an entity set at a sync, key order, read in pages of `page` rows.
pub async fn rows_at(
    store: &Store,
    administration: AdministrationId,
    set_name: &str,
    sync: i64,
    filter: &[SqlPiece],
) -> Vec<Vec<Value>> {
    let set = feed().set(set_name).expect("set");
    let columns: Vec<_> = set.columns.iter().map(|c| (c.column, c.storage)).collect();
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let read = ReportingRead {
            administration,
            source: set.source,
            sync,
            columns: &columns,
            filter,
            order: &[],
            after_key: after,
            offset: 0,
            limit: 3,
        };
        let page = koppel_datasync::rows::fetch(store, &read).await.expect("rows");
        let full = page.len() == 3;
        after = page.last().and_then(|row| row[0].as_i64()).or(after);
        rows.extend(page);
        if !full {
            return rows;
        }
    }
}

/// The ids of an entity set at a sync.
pub async fn ids_at(store: &Store, administration: AdministrationId, set_name: &str, sync: i64) -> Vec<i64> {
    rows_at(store, administration, set_name, sync, &[])
        .await
        .iter()
        .map(|row| row[0].as_i64().unwrap())
        .collect()
}

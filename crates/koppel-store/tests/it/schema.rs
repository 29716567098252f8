//! Migrations, and the migrated schema against the resource specs (the schema drift test).

use crate::seed;
use koppel_domain::record::FieldKind;
use koppel_domain::resources;
use koppel_store::schema::SYSTEM_COLUMNS;
use koppel_store::{Backend, ConnectOptions, Store, SystemClock};
use koppel_test_support::{Fixture, TestDatabase};
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};
use std::sync::Arc;

#[tokio::test]
async fn migrations_apply_and_are_idempotent() {
    for db in TestDatabase::all().await {
        let environment = db.store().create_environment("Eerste").await.expect("environment");
        db.store().migrate().await.expect("second migrate is a no-op");
        db.store().migrate().await.expect("third migrate is a no-op");

        // A second process opening the same database migrates too (as `koppel serve` does on start).
        let options = ConnectOptions {
            url: db.url().to_string(),
            max_connections: 2,
        };
        let other = Store::connect(&options, Arc::new(SystemClock))
            .await
            .expect("connect again");
        other.migrate().await.expect("migrate from a second store");
        let licences = other
            .licences(environment)
            .await
            .expect("data survives migrating again");
        assert_eq!(licences.len(), 3, "{}", db.backend().name());
        other.close().await;
        db.cleanup().await;
    }
}

/// Every column a spec names exists in the migrated database: select them all from every table.
#[tokio::test]
async fn every_spec_column_exists_in_the_migrated_database() {
    for db in TestDatabase::all().await {
        let statements: Vec<(&str, String)> = resources::ALL
            .iter()
            .map(|spec| {
                let columns: Vec<&str> = SYSTEM_COLUMNS
                    .iter()
                    .copied()
                    .chain(spec.fields.iter().map(|f| f.name))
                    .collect();
                (
                    spec.table,
                    format!("SELECT {} FROM {} LIMIT 0", columns.join(", "), spec.table),
                )
            })
            .collect();
        match db.backend() {
            Backend::Sqlite => {
                let mut connection = SqliteConnection::connect(db.url()).await.expect("connect");
                for (table, statement) in statements {
                    sqlx::query(AssertSqlSafe(statement))
                        .fetch_all(&mut connection)
                        .await
                        .unwrap_or_else(|error| panic!("sqlite table {table} does not match its spec: {error}"));
                }
                connection.close().await.expect("close");
            }
            Backend::Postgres => {
                let mut connection = PgConnection::connect(db.url()).await.expect("connect");
                for (table, statement) in statements {
                    sqlx::query(AssertSqlSafe(statement))
                        .fetch_all(&mut connection)
                        .await
                        .unwrap_or_else(|error| panic!("postgres table {table} does not match its spec: {error}"));
                }
                connection.close().await.expect("close");
            }
        }
        db.cleanup().await;
    }
}

/// Every resource can be stored with every field filled in and read back unchanged, so column types
/// fit the values on both backends, not only the names.
#[tokio::test]
async fn every_resource_round_trips_every_field() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let seeded = seed::every_resource(store, fixture.sub1).await;
        for spec in resources::ALL {
            let record = seeded.of(spec);
            assert_eq!(record.administration, fixture.sub1);
            assert_eq!(
                &store.get_record(fixture.sub1, spec, record.id).await.expect("get"),
                record,
                "{} on {}",
                spec.slug,
                db.backend().name()
            );
            for (field, value) in spec.fields.iter().zip(&record.values) {
                // Only a failed export sets an export error.
                let may_be_empty = (spec.slug, field.name) == ("work-orders", "export_error");
                assert!(
                    may_be_empty || !value.is_null(),
                    "{}.{} was not stored on {}",
                    spec.slug,
                    field.name,
                    db.backend().name()
                );
                if let FieldKind::Ref(_) = field.kind
                    && let Some(id) = value.as_i64()
                {
                    assert!(id > 0);
                }
            }
            assert!(record.modified_at >= record.created_at);
            assert!(record.change_seq > 0);
        }
        db.cleanup().await;
    }
}

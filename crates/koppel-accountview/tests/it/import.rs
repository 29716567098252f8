//! Import: paging through debtors, an incremental second run that only fetches changes, a blocked
//! debtor, articles by group, code lists; pages written in batches (a page mixing new, changed,
//! unchanged and skipped rows, a rerun that changes nothing, change tracking for Data Sync), an
//! interrupted import that resumes after its last stored page, and the store's batch write beyond one
//! statement's bind-parameter limit.

use crate::support::*;
use koppel_accountview::api::{ApiFuture, BusinessObjectRights, Company, HttpRequest, ReadQuery, TokenFuture};
use koppel_accountview::import::CategoryCounts;
use koppel_accountview::storage::{self, CodeList, ImportCursor};
use koppel_accountview::{AccountView, AccountViewApi, AccountViewApiError, HttpApi, ImportCategory, Settings};
use koppel_domain::AdministrationId;
use koppel_domain::record::Value;
use koppel_domain::resources::{MATERIALS, RELATIONS};
use koppel_store::records::{ListQuery, StoredRecord};
use koppel_store::upserts::{MAX_PARAMETERS, Upserted};
use koppel_store::{Store, StoreError};
use koppel_test_support::accountview::{self as av, REDIRECT_URI};
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

async fn relation(
    store: &koppel_store::Store,
    administration: koppel_domain::AdministrationId,
    code: &str,
) -> Option<Vec<Value>> {
    let mut tx = store.write(administration).await.unwrap();
    let record = tx.record_by_code(&RELATIONS, code).await.unwrap();
    tx.rollback().await.unwrap();
    record.map(|r| r.values)
}

#[tokio::test]
async fn debtors_articles_and_code_lists_import_incrementally() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let sandbox = TestSandbox::start(230).await;
        let accountview = sandbox.connector(store);
        let administration = fixture.main;
        connect(&sandbox, &accountview, administration, fixture.admin.id, DEMO_USER).await;
        let mut settings = export_settings(store.now());
        settings.export.enabled = false;
        settings.import.include_blocked_debtors = true;
        settings.import.article_groups = Vec::new();
        accountview.save(administration, VDB_2026_ID, &settings).await.unwrap();

        let counts = accountview.import(administration, &[], None).await.unwrap();
        let debtors = &counts[&ImportCategory::Debtors];
        assert_eq!(debtors.fetched, 230);
        assert_eq!(debtors.created, 230);
        assert_eq!(debtors.pages, 5, "230 rows in pages of 50: {debtors:?}");
        assert_eq!(counts[&ImportCategory::Articles].fetched, 500);
        let relations = store
            .list_records(
                administration,
                &RELATIONS,
                &ListQuery {
                    limit: 1000,
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(relations.records.len(), 230);
        // The blocked debtor is blocked in Koppel; names keep their diacritics.
        let blocked = relation(store, administration, "10005").await.expect("imported");
        assert_eq!(blocked[RELATIONS.field_index("blocked")], Value::Bool(true));
        assert!(
            relations
                .records
                .iter()
                .any(|r| r.get(&RELATIONS, "name").as_str() == Some("Zoë van Dijk"))
        );
        let vat_codes = storage::codes(store, administration, CodeList::VatCodes).await.unwrap();
        assert_eq!(vat_codes.iter().filter(|c| c.reverse_charge).count(), 1);
        assert!(
            storage::codes(store, administration, CodeList::Journals)
                .await
                .unwrap()
                .iter()
                .any(|j| j.code == "VRK" && j.journal_type == "V")
        );
        assert!(
            storage::codes(store, administration, CodeList::LedgerAccounts)
                .await
                .unwrap()
                .iter()
                .any(|a| a.code == "8990" && a.blocked)
        );
        assert!(
            !storage::codes(store, administration, CodeList::CostCentres)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            storage::codes(store, administration, CodeList::ArticleGroups)
                .await
                .unwrap()
                .len(),
            10
        );
        let materials = store
            .list_records(
                administration,
                &MATERIALS,
                &ListQuery {
                    limit: 1000,
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(materials.records.len(), 500);

        // A new debtor in AccountView (posted with the connection's own token): the second run fetches
        // only what changed since the first.
        let connection = accountview.connection(administration).await.unwrap().unwrap();
        let cipher =
            koppel_accountview::Cipher::from_key_text(&koppel_accountview::Secret::new("ab".repeat(32))).unwrap();
        let token = cipher.decrypt(connection.access_token.as_deref().unwrap()).unwrap();
        let created = sandbox
            .http
            .post(format!("{}/api/v3/AccountViewData", sandbox.base))
            .bearer_auth(&token)
            .header("x-company", VDB_2026_ID)
            .json(&json!({"BusinessObject": "AR1",
                "Table": {"Definition": {"Name": "CONTACT", "Fields": [
                    {"Name": "SUB_NR", "FieldType": "C"}, {"Name": "ACCT_NAME", "FieldType": "C"},
                    {"Name": "REC_BLK", "FieldType": "L"}]}},
                "TableData": {"Data": {"Rows": [{"RowId": "1", "Values": ["D-NEW-1", "Familie Öztürk", true]}]}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), reqwest::StatusCode::OK);
        let second = accountview
            .import(administration, &[ImportCategory::Debtors], None)
            .await
            .unwrap();
        let debtors = &second[&ImportCategory::Debtors];
        assert!(debtors.fetched < 20, "only changes are fetched: {debtors:?}");
        assert_eq!(debtors.created, 1, "{debtors:?}");
        let new = relation(store, administration, "D-NEW-1").await.expect("imported");
        assert_eq!(
            new[RELATIONS.field_index("blocked")],
            Value::Bool(true),
            "blocked in AccountView, blocked in Koppel"
        );
        assert_eq!(new[RELATIONS.field_index("name")], Value::Text("Familie Öztürk".into()));

        database.cleanup().await;
    }
}

/// Every relation of an administration, by code.
async fn relations_by_code(store: &Store, administration: AdministrationId) -> BTreeMap<String, StoredRecord> {
    let mut all = BTreeMap::new();
    let mut after = None;
    loop {
        let page = store
            .list_records(
                administration,
                &RELATIONS,
                &ListQuery {
                    after,
                    limit: 1000,
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap();
        for record in page.records {
            let code = record.get(&RELATIONS, "code").as_str().unwrap().to_string();
            assert!(all.insert(code, record).is_none(), "codes are unique");
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
}

/// The debtors import of a connected administration with blocked debtors left out.
async fn connected(
    store: &Store,
    sandbox: &TestSandbox,
    accountview: &AccountView,
    fixture: &Fixture,
) -> (AdministrationId, Settings) {
    let administration = fixture.main;
    connect(sandbox, accountview, administration, fixture.admin.id, DEMO_USER).await;
    let mut settings = export_settings(store.now());
    settings.export.enabled = false;
    settings.import.include_blocked_debtors = false;
    accountview.save(administration, VDB_2026_ID, &settings).await.unwrap();
    (administration, settings)
}

/// Imports one category from the start again (as a first run would), not only what changed.
async fn import_all(
    store: &Store,
    accountview: &AccountView,
    administration: AdministrationId,
    category: ImportCategory,
) -> CategoryCounts {
    storage::set_cursor(store, administration, category.slug(), &ImportCursor::default())
        .await
        .unwrap();
    let counts = accountview.import(administration, &[category], None).await.unwrap();
    let counts = counts[&category].clone();
    assert_eq!(
        counts.fetched,
        counts.created + counts.updated + counts.unchanged + counts.skipped,
        "the parts add up to what was read: {counts:?}"
    );
    counts
}

/// Records changed after a position, as Data Sync reads them.
async fn changed_since(store: &Store, administration: AdministrationId, position: i64) -> Vec<String> {
    let mut tx = store.snapshot().await.unwrap();
    let records = tx
        .changed_records(administration, &RELATIONS, position, 0, 10_000)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    records
        .iter()
        .map(|r| r.get(&RELATIONS, "code").as_str().unwrap().to_string())
        .collect()
}

async fn position(store: &Store, administration: AdministrationId) -> i64 {
    let mut tx = store.snapshot().await.unwrap();
    let position = tx.change_position(administration).await.unwrap();
    tx.rollback().await.unwrap();
    position
}

#[tokio::test]
async fn a_page_of_new_changed_unchanged_and_skipped_debtors_counts_exactly_and_a_rerun_changes_nothing() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        // 40 debtors: one page (of 50), with the one blocked debtor of the sandbox (10005).
        let sandbox = TestSandbox::start(40).await;
        let accountview = sandbox.connector(store);
        let (administration, _) = connected(store, &sandbox, &accountview, &fixture).await;

        let first = import_all(store, &accountview, administration, ImportCategory::Debtors).await;
        assert_eq!(
            (
                first.fetched,
                first.created,
                first.updated,
                first.unchanged,
                first.skipped,
                first.pages
            ),
            (40, 39, 0, 0, 1, 1),
            "{first:?}"
        );
        let imported = relations_by_code(store, administration).await;
        assert_eq!(imported.len(), 39);
        assert!(!imported.contains_key("10005"), "a new blocked debtor is skipped");

        // In Koppel: 10002 is deleted (so new again), 10003 renamed (so changed), 10004 given notes,
        // which AccountView does not know (so unchanged, the notes kept).
        store
            .delete_record(administration, &RELATIONS, imported["10002"].id)
            .await
            .unwrap();
        let mut rename = vec![None; RELATIONS.fields.len()];
        rename[RELATIONS.field_index("name")] = Some(Value::Text("Hernoemd in Koppel".into()));
        store
            .update_record(administration, &RELATIONS, imported["10003"].id, rename)
            .await
            .unwrap();
        let mut notes = vec![None; RELATIONS.fields.len()];
        notes[RELATIONS.field_index("notes")] = Some(Value::Text("Klant sinds 1990".into()));
        store
            .update_record(administration, &RELATIONS, imported["10004"].id, notes)
            .await
            .unwrap();
        let before = relations_by_code(store, administration).await;
        let since = position(store, administration).await;

        let second = import_all(store, &accountview, administration, ImportCategory::Debtors).await;
        assert_eq!(
            (
                second.fetched,
                second.created,
                second.updated,
                second.unchanged,
                second.skipped
            ),
            (40, 1, 1, 37, 1),
            "{second:?}"
        );
        let after = relations_by_code(store, administration).await;
        assert_eq!(after.len(), 39);
        assert!(!after.contains_key("10005"));
        assert_eq!(after["10002"].values, imported["10002"].values, "recreated as imported");
        assert_ne!(after["10002"].id, imported["10002"].id);
        assert_eq!(
            after["10003"].values, imported["10003"].values,
            "AccountView's name is back"
        );
        assert_eq!(
            after["10004"].get(&RELATIONS, "notes"),
            &Value::Text("Klant sinds 1990".into()),
            "fields AccountView does not know keep Koppel's value"
        );
        // Only the new and the changed relation were written, at a position Data Sync reads after.
        assert_eq!(changed_since(store, administration, since).await, ["10003", "10002"]);
        for (code, record) in &after {
            if code == "10002" || code == "10003" {
                assert!(record.change_seq > since, "{code}");
                assert!(record.modified_at >= before.get(code).map_or(record.created_at, |b| b.modified_at));
            } else {
                assert_eq!(record, &before[code], "{code} is untouched");
            }
        }

        // A rerun reads everything again and writes nothing.
        let since = position(store, administration).await;
        let third = import_all(store, &accountview, administration, ImportCategory::Debtors).await;
        assert_eq!(
            (
                third.fetched,
                third.created,
                third.updated,
                third.unchanged,
                third.skipped
            ),
            (40, 0, 0, 39, 1),
            "{third:?}"
        );
        assert!(changed_since(store, administration, since).await.is_empty());
        assert_eq!(relations_by_code(store, administration).await, after);

        // Blocked debtors are taken in when the settings say so.
        let mut settings = export_settings(store.now());
        settings.export.enabled = false;
        settings.import.include_blocked_debtors = true;
        accountview.save(administration, VDB_2026_ID, &settings).await.unwrap();
        let fourth = import_all(store, &accountview, administration, ImportCategory::Debtors).await;
        assert_eq!(
            (fourth.created, fourth.unchanged, fourth.skipped),
            (1, 39, 0),
            "{fourth:?}"
        );

        // Code lists: a changed name is updated back, the rest left as it is.
        let vat = import_all(store, &accountview, administration, ImportCategory::VatCodes).await;
        assert_eq!(
            (vat.created, vat.updated, vat.unchanged),
            (vat.fetched, 0, 0),
            "{vat:?}"
        );
        let mut codes = storage::codes(store, administration, CodeList::VatCodes).await.unwrap();
        let original = codes.clone();
        codes[0].name = "Hernoemd".into();
        storage::upsert_codes(store, administration, CodeList::VatCodes, &codes[..1])
            .await
            .unwrap();
        let vat = import_all(store, &accountview, administration, ImportCategory::VatCodes).await;
        assert_eq!(
            (vat.created, vat.updated, vat.unchanged),
            (0, 1, vat.fetched - 1),
            "{vat:?}"
        );
        assert_eq!(
            storage::codes(store, administration, CodeList::VatCodes).await.unwrap(),
            original
        );

        database.cleanup().await;
    }
}

/// The real client, but the `fail_at`-th read of debtors fails in a way that is not retried.
struct FailingReads {
    inner: HttpApi,
    debtor_reads: AtomicU32,
    fail_at: u32,
}

impl AccountViewApi for FailingReads {
    fn token(&self, request: HttpRequest) -> TokenFuture<'_> {
        self.inner.token(request)
    }

    fn companies<'a>(&'a self, access_token: &'a str) -> ApiFuture<'a, Vec<Company>> {
        self.inner.companies(access_token)
    }

    fn business_objects<'a>(
        &'a self,
        access_token: &'a str,
        company: &'a str,
    ) -> ApiFuture<'a, Vec<BusinessObjectRights>> {
        self.inner.business_objects(access_token, company)
    }

    fn read<'a>(&'a self, access_token: &'a str, company: &'a str, query: &'a ReadQuery) -> ApiFuture<'a, Json> {
        if query.business_object == "AR1" && self.debtor_reads.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at {
            return Box::pin(async { Err(AccountViewApiError::Protocol("the test cuts the import off".into())) });
        }
        self.inner.read(access_token, company, query)
    }

    fn write<'a>(&'a self, access_token: &'a str, company: &'a str, body: &'a Json) -> ApiFuture<'a, Json> {
        self.inner.write(access_token, company, body)
    }
}

#[tokio::test]
async fn an_interrupted_import_keeps_whole_pages_and_resumes_after_the_last() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let sandbox = TestSandbox::start(230).await;
        // The third page is asked for while the second is stored: the second must still be kept.
        let failing = Arc::new(FailingReads {
            inner: HttpApi::new(&sandbox.base, Duration::from_secs(10)).unwrap(),
            debtor_reads: AtomicU32::new(0),
            fail_at: 3,
        });
        let cut_off =
            AccountView::with_api(av::test_config(&sandbox.base, REDIRECT_URI), store.clone(), failing).unwrap();
        let (administration, _) = connected(store, &sandbox, &cut_off, &fixture).await;
        let error = cut_off
            .import(administration, &[ImportCategory::Debtors], None)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("cuts the import off"), "{error}");
        let stored = relations_by_code(store, administration).await;
        let cursor = storage::cursor(store, administration, ImportCategory::Debtors.slug())
            .await
            .unwrap();
        // Two pages of 50 rows, one of them the blocked debtor that was skipped.
        assert_eq!(stored.len(), 99);
        assert_eq!(cursor.last_key.as_deref(), stored.keys().last().map(String::as_str));
        assert_eq!(cursor.changed_since, None);

        let accountview = sandbox.connector(store);
        let rest = accountview
            .import(administration, &[ImportCategory::Debtors], None)
            .await
            .unwrap();
        let rest = &rest[&ImportCategory::Debtors];
        assert_eq!((rest.fetched, rest.created, rest.unchanged), (130, 130, 0), "{rest:?}");
        assert_eq!(relations_by_code(store, administration).await.len(), 229);
        let cursor = storage::cursor(store, administration, ImportCategory::Debtors.slug())
            .await
            .unwrap();
        assert_eq!(cursor.last_key, None, "the run completed");
        assert!(cursor.changed_since.is_some());

        database.cleanup().await;
    }
}

/// A relation's values for [`koppel_store::WriteTx::upsert_by_code`].
fn relation_row(code: &str, name: &str) -> Vec<Option<Value>> {
    let mut values = vec![None; RELATIONS.fields.len()];
    values[RELATIONS.field_index("code")] = Some(Value::Text(code.into()));
    values[RELATIONS.field_index("name")] = Some(Value::Text(name.into()));
    values[RELATIONS.field_index("kind")] = Some(Value::Text("company".into()));
    values
}

#[tokio::test]
async fn batch_writes_by_code_go_beyond_one_statements_parameter_limit() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let administration = fixture.main;
        // More codes than one statement may bind, and far more field values.
        let count = MAX_PARAMETERS + 100;
        let codes: Vec<String> = (0..count).map(|index| format!("R{index:06}")).collect();

        let mut tx = store.write(administration).await.unwrap();
        let stored = tx.records_by_codes(&RELATIONS, &codes).await.unwrap();
        assert!(stored.is_empty());
        let rows = codes.iter().map(|code| relation_row(code, "Eerst")).collect();
        let outcomes = tx.upsert_by_code(&RELATIONS, &stored, rows).await.unwrap();
        assert!(outcomes.iter().all(|o| *o == Upserted::Created));
        let first_position = tx.change_seq;
        tx.commit().await.unwrap();

        // Every other one renamed; one code twice in the batch (renamed by the first, back by the second).
        let mut tx = store.write(administration).await.unwrap();
        let stored = tx.records_by_codes(&RELATIONS, &codes).await.unwrap();
        assert_eq!(stored.len(), count);
        let mut rows: Vec<Vec<Option<Value>>> = codes
            .iter()
            .enumerate()
            .map(|(index, code)| relation_row(code, if index % 2 == 0 { "Later" } else { "Eerst" }))
            .collect();
        rows.push(relation_row(&codes[0], "Eerst"));
        rows.push(relation_row("R-NIEUW", "Nieuw"));
        rows.push(relation_row("R-NIEUW", "Nieuw"));
        let outcomes = tx.upsert_by_code(&RELATIONS, &stored, rows).await.unwrap();
        let tally = |wanted: Upserted| outcomes.iter().filter(|o| **o == wanted).count();
        assert_eq!(tally(Upserted::Created), 1);
        assert_eq!(tally(Upserted::Updated), count.div_ceil(2) + 1);
        assert_eq!(tally(Upserted::Unchanged), count / 2 + 1);
        let second_position = tx.change_seq;
        tx.commit().await.unwrap();

        let all = relations_by_code(store, administration).await;
        assert_eq!(all.len(), count + 1);
        assert_eq!(all[&codes[0]].get(&RELATIONS, "name"), &Value::Text("Eerst".into()));
        assert_eq!(
            all[&codes[0]].change_seq, second_position,
            "written again, back to its name"
        );
        assert_eq!(all[&codes[2]].get(&RELATIONS, "name"), &Value::Text("Later".into()));
        assert_eq!(all[&codes[2]].change_seq, second_position);
        assert_eq!(
            all[&codes[1]].change_seq, first_position,
            "unchanged rows are not written"
        );
        assert_eq!(all["R-NIEUW"].change_seq, second_position);

        // A row the database refuses in a later statement leaves nothing of the batch behind once the
        // transaction is rolled back.
        let mut tx = store.write(administration).await.unwrap();
        let stored = tx.records_by_codes(&RELATIONS, &codes[..1000]).await.unwrap();
        let mut rows: Vec<Vec<Option<Value>>> = codes[..1000].iter().map(|code| relation_row(code, "Half")).collect();
        rows[900][RELATIONS.field_index("name")] = Some(Value::Null);
        let error = tx.upsert_by_code(&RELATIONS, &stored, rows).await.unwrap_err();
        assert!(matches!(error, StoreError::Database(_)), "{error:?}");
        tx.rollback().await.unwrap();
        let unchanged = relations_by_code(store, administration).await;
        assert_eq!(unchanged, all);

        // A new record without a required value is refused before anything is written.
        let mut tx = store.write(administration).await.unwrap();
        let mut nameless = relation_row("R-ZONDER-NAAM", "x");
        nameless[RELATIONS.field_index("name")] = None;
        let error = tx
            .upsert_by_code(&RELATIONS, &HashMap::new(), vec![nameless])
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
        tx.rollback().await.unwrap();

        database.cleanup().await;
    }
}

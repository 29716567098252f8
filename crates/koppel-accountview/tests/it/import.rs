//! Import: paging through debtors, an incremental second run that only fetches changes, a blocked
//! debtor, articles by group, code lists.

use crate::support::*;
use koppel_accountview::ImportCategory;
use koppel_accountview::storage::{self, CodeList};
use koppel_domain::record::Value;
use koppel_domain::resources::{MATERIALS, RELATIONS};
use koppel_store::records::ListQuery;
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;

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

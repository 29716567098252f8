//! Tokens: expiry and rotation mid-run, refresh once across concurrent callers, revoked consent →
//! "authentication expired" without a retry loop.

use crate::support::*;
use koppel_accountview::storage::{self, ConnectionStatus};
use koppel_accountview::{AccountViewError, ImportCategory};
use koppel_jobs::JobError;
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::json;

#[tokio::test]
async fn tokens_rotate_mid_run_and_revoked_consent_stops_syncing() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let sandbox = TestSandbox::start(300).await;
        let accountview = sandbox.connector(store);
        let administration = fixture.main;
        connect(&sandbox, &accountview, administration, fixture.admin.id, DEMO_USER).await;
        let mut settings = export_settings(store.now());
        settings.export.enabled = false;
        accountview.save(administration, VDB_2026_ID, &settings).await.unwrap();
        let version = accountview
            .connection(administration)
            .await
            .unwrap()
            .unwrap()
            .token_version;

        // Access tokens expire while the import pages; rotation kills each used refresh token.
        sandbox.post("/_sandbox/tokens/expire", json!({"access": true})).await;
        let imported = accountview
            .import(administration, &[ImportCategory::Debtors], None)
            .await
            .unwrap();
        assert_eq!(imported[&ImportCategory::Debtors].fetched, 300);
        let after = accountview.connection(administration).await.unwrap().unwrap();
        assert_eq!(after.token_version, version + 1, "refreshed exactly once");

        // Eight callers at once on an expired token: one refresh, all succeed (a second refresh with
        // the rotated-away token would have ended in invalid_grant).
        sandbox.post("/_sandbox/tokens/expire", json!({"access": true})).await;
        storage::expire_access(store, administration, after.token_version)
            .await
            .unwrap();
        let calls = (0..8).map(|_| accountview.companies(administration));
        for result in futures_join(calls).await {
            assert_eq!(result.unwrap().len(), 3);
        }
        let after_burst = accountview.connection(administration).await.unwrap().unwrap();
        assert_eq!(after_burst.token_version, after.token_version + 1);

        // Revoked consent: authentication expired, no retry loop, tokens gone.
        sandbox
            .post("/_sandbox/grants/revoke", json!({"user": DEMO_USER}))
            .await;
        let error = accountview
            .import(administration, &[ImportCategory::Debtors], None)
            .await
            .unwrap_err();
        assert!(matches!(error, AccountViewError::AuthenticationExpired), "{error:?}");
        let expired = accountview.connection(administration).await.unwrap().unwrap();
        assert_eq!(expired.status, ConnectionStatus::AuthenticationExpired);
        assert!(expired.access_token.is_none() && expired.refresh_token.is_none());
        let grants = sandbox.get("/_sandbox/grants").await;
        let _ = grants;
        match JobError::from(error) {
            JobError::Permanent { message, .. } => {
                assert_eq!(
                    message.nl,
                    "Authenticatie verlopen. Verbind de integratie opnieuw om gegevens te synchroniseren."
                );
                assert_eq!(
                    message.en,
                    "Authentication expired. Reconnect the integration to sync data."
                );
            }
            other => panic!("expected a permanent error, got {other:?}"),
        }
        // Nothing more is tried: a second call fails at once without asking AccountView.
        assert!(matches!(
            accountview.companies(administration).await,
            Err(AccountViewError::AuthenticationExpired)
        ));

        // Reconnecting keeps the saved company and settings.
        connect(&sandbox, &accountview, administration, fixture.admin.id, DEMO_USER).await;
        let reconnected = accountview.connection(administration).await.unwrap().unwrap();
        assert_eq!(reconnected.status, ConnectionStatus::Connected);
        assert!(reconnected.company.is_some());
        database.cleanup().await;
    }
}

async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut outputs = Vec::new();
    let handles: Vec<_> = futures.collect();
    // Poll them concurrently on this task.
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = handles.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (index, future) in pinned.iter_mut().enumerate() {
            if done[index].is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => done[index] = Some(output),
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.extend(done.into_iter().map(|o| o.expect("finished")));
    outputs
}

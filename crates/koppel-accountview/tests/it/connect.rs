//! Signing in: approve, deny, a forged and a replayed `state`, choosing and locking the
//! administration, the check before saving, disconnecting and reconnecting.

use crate::support::*;
use koppel_accountview::SignInError;
use koppel_accountview::oauth::CallbackParameters;
use koppel_accountview::settings::SaveError;
use koppel_accountview::storage::ConnectionStatus;
use koppel_test_support::{Fixture, TestDatabase};

#[tokio::test]
async fn sign_in_choose_save_lock_disconnect_and_reconnect() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let sandbox = TestSandbox::start(200).await;
        let accountview = sandbox.connector(store);
        let (administration, user) = (fixture.main, fixture.admin.id);

        // Denied on the consent page: no connection, and the state is used up.
        let url = accountview.begin_sign_in(administration, user).await.unwrap();
        assert!(
            url.contains("code_challenge_method=S256") && url.contains("state="),
            "{url}"
        );
        let denied = sandbox.sign_in(&url, DEMO_USER, "deny").await;
        assert_eq!(denied.error.as_deref(), Some("access_denied"));
        let error = accountview.complete_sign_in(&denied, user).await.unwrap_err();
        assert!(matches!(error, SignInError::Denied), "{error:?}");
        assert!(accountview.connection(administration).await.unwrap().is_none());

        // A forged state and a state of another user are refused.
        let forged = CallbackParameters {
            state: Some("made-up".into()),
            code: Some("whatever".into()),
            ..CallbackParameters::default()
        };
        assert!(matches!(
            accountview.complete_sign_in(&forged, user).await,
            Err(SignInError::InvalidState)
        ));
        let url = accountview.begin_sign_in(administration, user).await.unwrap();
        let approved = sandbox.sign_in(&url, DEMO_USER, "approve").await;
        assert!(matches!(
            accountview.complete_sign_in(&approved, fixture.user.id).await,
            Err(SignInError::InvalidState)
        ));
        // That state is used up now, so even its rightful owner cannot replay it.
        assert!(matches!(
            accountview.complete_sign_in(&approved, user).await,
            Err(SignInError::InvalidState)
        ));
        assert!(accountview.connection(administration).await.unwrap().is_none());

        // Approved: connected, tokens encrypted at rest; a replay of the same callback is refused.
        let url = accountview.begin_sign_in(administration, user).await.unwrap();
        let approved = sandbox.sign_in(&url, DEMO_USER, "approve").await;
        assert_eq!(
            accountview.complete_sign_in(&approved, user).await.unwrap(),
            administration
        );
        assert!(matches!(
            accountview.complete_sign_in(&approved, user).await,
            Err(SignInError::InvalidState)
        ));
        let connection = accountview
            .connection(administration)
            .await
            .unwrap()
            .expect("connected");
        assert_eq!(connection.status, ConnectionStatus::Connected);
        let sealed = connection.access_token.clone().expect("access token");
        assert!(!sealed.starts_with("av_") && sealed.len() > 40);
        assert!(!format!("{connection:?}").contains(&sealed), "Debug hides tokens");

        // The companies this user may reach; import the code lists, then check and save.
        let companies = accountview.companies(administration).await.unwrap();
        let codes: Vec<&str> = companies.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, ["VDB25", "VDB26", "KSO26"]);
        let mut settings = export_settings(store.now());
        // The check names what is missing before anything is imported.
        let report = accountview.check(administration, VDB_2026_ID, &settings).await.unwrap();
        assert!(!report.ok());
        assert!(report.items.iter().any(|i| i.key == "code:sales_journal" && !i.ok));
        assert!(report.items.iter().any(|i| i.key == "licence" && i.ok));
        assert!(report.items.iter().any(|i| i.key == "rights:export" && i.ok));
        // Unsaved connections do not import yet: import the code lists through a first save without export.
        settings.export.enabled = false;
        accountview
            .save(administration, VDB_2026_ID, &settings)
            .await
            .expect("saved");
        accountview.import(administration, &[], None).await.expect("import");
        settings.export.enabled = true;
        let report = accountview.check(administration, VDB_2026_ID, &settings).await.unwrap();
        assert!(report.ok(), "{report:#?}");
        // A blocked journal is reported.
        let mut blocked = settings.clone();
        blocked.export.sales_journal = Some("VR2".into());
        let report = accountview.check(administration, VDB_2026_ID, &blocked).await.unwrap();
        assert!(
            report
                .items
                .iter()
                .any(|i| i.key == "code:sales_journal" && !i.ok && i.message.nl.contains("geblokkeerd"))
        );
        accountview
            .save(administration, VDB_2026_ID, &settings)
            .await
            .expect("saved");

        // Locked: another administration needs a disconnect first.
        let other = companies.iter().find(|c| c.code == "VDB25").unwrap();
        assert!(matches!(
            accountview.save(administration, &other.id, &settings).await,
            Err(SaveError::CompanyLocked)
        ));

        // Disconnect: tokens gone, imported data stays; reconnecting starts unsaved and can choose again.
        assert!(accountview.disconnect(administration).await.unwrap());
        assert!(accountview.connection(administration).await.unwrap().is_none());
        let relations = store
            .list_records(
                administration,
                &koppel_domain::resources::RELATIONS,
                &Default::default(),
            )
            .await;
        assert!(relations.is_ok());
        connect(&sandbox, &accountview, administration, user, DEMO_USER).await;
        let connection = accountview.connection(administration).await.unwrap().unwrap();
        assert!(connection.saved_at.is_none() && connection.company.is_none());

        // A read-only AccountView user: the check says exporting is not possible.
        accountview.disconnect(administration).await.unwrap();
        connect(&sandbox, &accountview, administration, user, READER_USER).await;
        let report = accountview.check(administration, VDB_2026_ID, &settings).await.unwrap();
        assert!(
            report.items.iter().any(|i| i.key == "rights:export" && !i.ok),
            "{report:#?}"
        );

        drop(accountview);
        database.cleanup().await;
    }
}

//! Users, passwords, rights per administration, API tokens and login sessions.

use crate::{assert_conflict, assert_invalid, assert_not_found, start_time};
use chrono::Duration;
use koppel_domain::rights::{Right, Rights};
use koppel_store::platform::{Actor, NewUser};
use koppel_test_support::{Fixture, TestDatabase};

#[tokio::test]
async fn users_log_in_with_their_password_only() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let admin = &fixture.admin;
        let user = store
            .authenticate_password(&admin.email, &admin.password)
            .await
            .expect("login")
            .expect("right password");
        assert_eq!(user.id, admin.id);
        assert_eq!(user.environment_id, fixture.environment);
        // E-mail addresses are matched without regard to case or surrounding spaces.
        let shouted = format!("  {}  ", admin.email.to_uppercase());
        assert!(
            store
                .authenticate_password(&shouted, &admin.password)
                .await
                .expect("login")
                .is_some()
        );
        assert!(
            store
                .authenticate_password(&admin.email, "verkeerd-wachtwoord")
                .await
                .expect("login")
                .is_none()
        );
        // Another user's password does not open this account.
        assert!(
            store
                .authenticate_password(&admin.email, &fixture.user.password)
                .await
                .expect("login")
                .is_none()
        );
        assert!(
            store
                .authenticate_password("niemand@koppel.test", &admin.password)
                .await
                .expect("login")
                .is_none()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn new_users_are_checked() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let new = |email, password| NewUser {
            environment: fixture.environment,
            email,
            name: "Nieuwe Collega",
            password,
            language: "en",
        };
        let duplicate = fixture.user.email.to_uppercase();
        assert_conflict(
            store.create_user(new(&duplicate, "lang-genoeg-wachtwoord")).await,
            "already_exists",
        );
        assert_invalid(
            store.create_user(new("geen-adres", "lang-genoeg-wachtwoord")).await,
            "email",
            "invalid",
        );
        assert_invalid(
            store.create_user(new("kort@koppel.test", "kort")).await,
            "password",
            "too_short",
        );
        let created = store
            .create_user(new("Nieuw@Koppel.test", "lang-genoeg-wachtwoord"))
            .await
            .expect("create");
        assert_eq!(created.email, "nieuw@koppel.test");
        assert_eq!(created.language, "en");
        store.set_user_language(created.id, "nl").await.expect("language");
        assert_eq!(store.user(created.id).await.expect("user").language, "nl");
        assert_invalid(store.set_user_language(created.id, "de").await, "language", "invalid");
        let names: Vec<String> = store
            .users(fixture.environment)
            .await
            .expect("users")
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(names, vec!["Anna Beheerder", "Bram Monteur", "Nieuwe Collega"]);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn rights_are_granted_per_administration() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let fixture = Fixture::create(store).await;
        let read_write: Rights = [Right::ReadData, Right::WriteData].into_iter().collect();
        assert_eq!(
            store.rights(fixture.user.id, fixture.sub1).await.expect("rights"),
            Some(read_write)
        );
        assert_eq!(store.rights(fixture.user.id, fixture.sub2).await.expect("rights"), None);
        assert_eq!(store.rights(fixture.user.id, fixture.main).await.expect("rights"), None);
        for administration in fixture.administrations() {
            assert_eq!(
                store.rights(fixture.admin.id, administration).await.expect("rights"),
                Some(Rights::all())
            );
        }
        let memberships = store.memberships(fixture.admin.id).await.expect("memberships");
        let ids: Vec<_> = memberships.iter().map(|m| m.administration.id).collect();
        assert_eq!(ids, fixture.administrations().to_vec(), "main first");

        // Changing rights replaces them; no rights removes access.
        let read_only: Rights = [Right::ReadData].into_iter().collect();
        store
            .set_rights(fixture.user.id, fixture.sub1, read_only, Actor(Some(fixture.admin.id)))
            .await
            .expect("set");
        assert_eq!(
            store.rights(fixture.user.id, fixture.sub1).await.expect("rights"),
            Some(read_only)
        );
        store
            .set_rights(
                fixture.user.id,
                fixture.sub1,
                Rights::default(),
                Actor(Some(fixture.admin.id)),
            )
            .await
            .expect("revoke");
        assert_eq!(store.rights(fixture.user.id, fixture.sub1).await.expect("rights"), None);
        assert!(
            store
                .memberships(fixture.user.id)
                .await
                .expect("memberships")
                .is_empty()
        );
        let audit = store.audit_log(fixture.environment, None, 1).await.expect("audit");
        assert!(audit[0].detail.ends_with("no access"), "{}", audit[0].detail);

        // Users of another environment cannot be given rights here.
        let other = Fixture::create(store).await;
        assert_not_found(
            store
                .set_rights(other.user.id, fixture.sub1, Rights::all(), Actor::SYSTEM)
                .await,
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn api_tokens_authenticate_until_revoked() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let clock = db.fixed_clock();
        let fixture = Fixture::create(store).await;
        let (token, secret) = store
            .create_api_token(fixture.user.id, "Power BI")
            .await
            .expect("token");
        assert_eq!(token.last_used_at, None);
        assert!(secret.starts_with("kpl_"));
        assert!(secret.len() > 40);
        let listed = store.api_tokens(fixture.user.id).await.expect("tokens");
        assert_eq!(listed, vec![token.clone()]);

        clock.advance(Duration::seconds(10));
        assert_eq!(
            store.authenticate_api_token(&secret).await.expect("auth"),
            Some(fixture.user.id)
        );
        let first_use = start_time() + Duration::seconds(10);
        let last_used = |store: &koppel_store::Store| {
            let store = store.clone();
            let user = fixture.user.id;
            async move { store.api_tokens(user).await.expect("tokens")[0].last_used_at }
        };
        assert_eq!(last_used(store).await, Some(first_use));
        // Within a minute the last-used time is not rewritten; after it, it is.
        clock.advance(Duration::seconds(30));
        store.authenticate_api_token(&secret).await.expect("auth");
        assert_eq!(last_used(store).await, Some(first_use));
        clock.advance(Duration::seconds(61));
        store.authenticate_api_token(&secret).await.expect("auth");
        assert_eq!(last_used(store).await, Some(start_time() + Duration::seconds(101)));

        assert_eq!(store.authenticate_api_token("kpl_verzonnen").await.expect("auth"), None);
        // Only the owner revokes, once.
        assert_not_found(store.revoke_api_token(fixture.admin.id, token.id).await);
        store.revoke_api_token(fixture.user.id, token.id).await.expect("revoke");
        assert_eq!(store.authenticate_api_token(&secret).await.expect("auth"), None);
        assert_not_found(store.revoke_api_token(fixture.user.id, token.id).await);
        let revoked = store.api_tokens(fixture.user.id).await.expect("tokens");
        assert_eq!(revoked[0].revoked_at, Some(start_time() + Duration::seconds(101)));

        // Each token is its own secret.
        let (_, second_secret) = store.create_api_token(fixture.user.id, "Excel").await.expect("token");
        assert_ne!(second_secret, secret);
        assert_eq!(
            store.authenticate_api_token(&second_secret).await.expect("auth"),
            Some(fixture.user.id)
        );
        assert_invalid(store.create_api_token(fixture.user.id, "  ").await, "name", "required");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn sessions_expire_by_the_clock() {
    for db in TestDatabase::all_at(start_time()).await {
        let store = db.store();
        let clock = db.fixed_clock();
        let fixture = Fixture::create(store).await;
        let secret = store
            .create_session(fixture.admin.id, Duration::hours(8))
            .await
            .expect("session");
        let other = store
            .create_session(fixture.user.id, Duration::hours(8))
            .await
            .expect("session");
        assert_eq!(
            store.session_user(&secret).await.expect("session"),
            Some(fixture.admin.id)
        );
        assert_eq!(
            store.session_user(&other).await.expect("session"),
            Some(fixture.user.id)
        );
        assert_eq!(store.session_user("verzonnen").await.expect("session"), None);

        clock.advance(Duration::hours(8) - Duration::seconds(1));
        assert_eq!(
            store.session_user(&secret).await.expect("session"),
            Some(fixture.admin.id)
        );
        clock.advance(Duration::seconds(1));
        assert_eq!(store.session_user(&secret).await.expect("session"), None, "expired");

        // Logging out ends a session at once.
        let fresh = store
            .create_session(fixture.admin.id, Duration::hours(8))
            .await
            .expect("session");
        store.delete_session(&fresh).await.expect("logout");
        assert_eq!(store.session_user(&fresh).await.expect("session"), None);
        db.cleanup().await;
    }
}

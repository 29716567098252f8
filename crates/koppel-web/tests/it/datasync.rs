//! The Data Sync REST API: Autosync, sync now (joining a running sync), full resync, freshness and
//! feed tokens, with the licence and right it needs.

use koppel_domain::licence::{LicenceState, PowerUp};
use koppel_store::platform::Actor;
use koppel_test_support::TestApp;
use koppel_web::pages::i18n::NL;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn autosync_sync_now_and_tokens_work_and_a_second_sync_joins_the_first() {
    TestApp::on_every_backend(|app| async move {
        let token = app.token(&app.fixture.admin).await;
        let sub1 = app.fixture.sub1;
        let status = app.datasync_status(&token, sub1).await;
        assert_eq!(status.status, StatusCode::OK, "{}", status.body);
        assert_eq!(status.body["autosync"], json!(false));
        assert_eq!(status.body["data_up_to"], json!(null));
        assert!(
            status.body["feed_url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/odata/v4/koppel-{sub1}/"))
        );
        assert!(status.body["power_query"].as_str().unwrap().contains("OData.Feed("));

        let on = app.set_autosync(&token, sub1, true).await;
        assert_eq!(on.status, StatusCode::OK, "{}", on.body);
        assert_eq!(on.body["autosync"], json!(true));
        assert_eq!(on.body["autosync_changed_by"], json!(app.fixture.admin.id.0));

        let first = app.sync_now(&token, sub1, false).await;
        assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
        assert_eq!(first.body["kind"], json!("data_sync"));
        assert_eq!(first.body["trigger"], json!("manual"));
        let second = app.sync_now(&token, sub1, true).await;
        assert_eq!(second.status, StatusCode::OK, "{}", second.body);
        assert_eq!(second.body["joined"], json!(true));
        assert_eq!(second.body["already"], json!("queued"));
        assert_eq!(second.body["id"], first.body["id"]);

        let created = app.create_feed_token(&token, sub1, "Power BI Desktop").await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert!(created.body["token"].as_str().unwrap().starts_with("kpf_"));
        let listed = app.feed_tokens(&token, sub1).await;
        assert_eq!(listed.body["items"][0]["name"], json!("Power BI Desktop"));
        assert!(
            listed.body["items"][0].get("token").is_none(),
            "the secret is shown once"
        );
        let id = created.body["id"].as_i64().unwrap();
        let revoked = app.revoke_feed_token(&token, sub1, id).await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.revoke_feed_token(&token, sub1, id).await.status,
            StatusCode::NOT_FOUND
        );
        app
    })
    .await;
}

#[tokio::test]
async fn data_sync_needs_the_right_and_the_licence() {
    TestApp::on_every_backend(|app| async move {
        let user = app.token(&app.fixture.user).await;
        let answer = app.datasync_status(&user, app.fixture.sub1).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("manage_datasync")
        );
        let admin = app.token(&app.fixture.admin).await;
        app.database
            .store()
            .set_licence(
                app.fixture.environment,
                PowerUp::PowerBi,
                LicenceState::Inactive,
                0,
                Actor::SYSTEM,
            )
            .await
            .unwrap();
        let answer = app.sync_now(&admin, app.fixture.sub1, false).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert_eq!(answer.code(), "licence_inactive");
        app
    })
    .await;
}

/// The Data Sync page: Autosync on → Save; Sync now → the run's progress page; a second Sync now
/// follows the same run; a feed token is shown once and can be revoked.
#[tokio::test]
async fn the_data_sync_page_saves_autosync_starts_syncs_and_manages_tokens() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let mut client = crate::pages::PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        let path = format!("/a/{}/settings/datasync", fixture.sub1);
        let page = client.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Autosync") && page.body.contains("Nu synchroniseren"));
        assert!(page.body.contains(&format!("/odata/v4/koppel-{}/", fixture.sub1)));
        assert!(page.body.contains("OData.Feed("));
        // The help page's words: Autosync is a switch, Opslaan saves it, the history and the hint.
        assert!(
            page.body
                .contains(r#"<input type="checkbox" role="switch" class="switch" id="autosync" name="autosync""#),
            "{}",
            page.body
        );
        assert!(page.body.contains(r#"<span class="when-off">Uit</span>"#));
        assert!(page.body.contains(r#"id="autosync-save">Opslaan</button>"#));
        assert!(page.body.contains(">Synchronisatiegeschiedenis</h2>"));
        assert!(
            page.body
                .contains("Je kunt nog steeds handmatig synchroniseren wanneer je direct actuele gegevens nodig hebt.")
        );
        assert!(page.body.contains(r#"class="primary" id="sync-now""#));

        let saved = client
            .post(
                &format!("{path}/autosync"),
                &[("csrf", &page.csrf()), ("autosync", "on")],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER);
        let page = client.get(&path).await;
        assert!(page.body.contains("Autosync staat aan"), "{}", page.body);
        assert!(page.body.contains(r#"aria-describedby="autosync-help" checked>"#));
        assert!(
            koppel_datasync::state::read(app.database.store(), fixture.sub1)
                .await
                .unwrap()
                .autosync
        );

        let started = client.post(&format!("{path}/sync"), &[("csrf", &page.csrf())]).await;
        assert_eq!(started.status, StatusCode::SEE_OTHER);
        let location = started.location.clone().unwrap();
        assert!(
            location.starts_with(&format!("/a/{}/runs/", fixture.sub1)),
            "{location}"
        );
        let again = client.post(&format!("{path}/sync"), &[("csrf", &page.csrf())]).await;
        assert_eq!(again.location, Some(location.clone()), "joins the running sync");
        let page = client.get(&path).await;
        assert!(page.body.contains("Er loopt een synchronisatie"), "{}", page.body);
        assert!(page.body.contains("id=\"sync-history\""));

        // A full resync is a link to a confirmation that says what it costs; its button posts.
        assert!(
            page.body
                .contains(&format!(r#"id="full-resync" href="{path}/full-resync""#))
        );
        let confirm = client.get(&format!("{path}/full-resync")).await;
        assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
        assert!(
            confirm.body.contains("<h1>Alles opnieuw synchroniseren?</h1>"),
            "{}",
            confirm.body
        );
        assert!(confirm.body.contains(NL.ds_full_resync_cost));
        assert!(
            confirm
                .body
                .contains(&format!(r#"<form method="post" action="{path}/sync""#))
        );
        assert!(confirm.body.contains(r#"<input type="hidden" name="full" value="1">"#));
        assert!(
            confirm
                .body
                .contains(r#"class="danger" id="confirm-submit">Ja, alles opnieuw synchroniseren</button>"#)
        );
        assert!(
            confirm
                .body
                .contains(&format!(r#"href="{path}" id="confirm-cancel">Annuleren</a>"#))
        );
        let full = client
            .post(&format!("{path}/sync"), &[("csrf", &confirm.csrf()), ("full", "1")])
            .await;
        assert_eq!(full.location, Some(location.clone()), "joins the running sync");

        let created = client
            .post(
                &format!("{path}/tokens"),
                &[("csrf", &page.csrf()), ("name", "Power BI Desktop")],
            )
            .await;
        assert_eq!(created.status, StatusCode::OK);
        assert!(created.body.contains("kpf_"), "the secret is shown once");
        let token = koppel_datasync::tokens::list(app.database.store(), fixture.sub1)
            .await
            .unwrap()[0]
            .id;
        // Revoking confirms first: a page that says what stops, a danger button and a way back.
        let confirm = client.get(&format!("{path}/tokens/{token}/revoke")).await;
        assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
        assert!(
            confirm.body.contains("Feedtoken Power BI Desktop intrekken"),
            "{}",
            confirm.body
        );
        assert!(
            confirm
                .body
                .contains("Power BI kan dan niet meer verversen met dit token")
        );
        assert!(
            confirm
                .body
                .contains(&format!(r#"<form method="post" action="{path}/tokens/{token}/revoke""#))
        );
        assert!(
            confirm
                .body
                .contains(r#"class="danger" id="confirm-submit">Ja, token intrekken</button>"#)
        );
        assert!(confirm.body.contains(&format!(
            r##"href="{path}#ds-tokens" id="confirm-cancel">Annuleren</a>"##
        )));
        assert!(
            koppel_datasync::tokens::list(app.database.store(), fixture.sub1)
                .await
                .unwrap()[0]
                .revoked_at
                .is_none(),
            "opening the confirmation revokes nothing"
        );
        let revoked = client
            .post(&format!("{path}/tokens/{token}/revoke"), &[("csrf", &confirm.csrf())])
            .await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER);
        let page = client.get(&path).await;
        assert!(page.body.contains("is ingetrokken"), "{}", page.body);
        assert!(!page.body.contains("kpf_"), "the secret is never shown again");
        // A revoked token has nothing left to confirm.
        let again = client.get(&format!("{path}/tokens/{token}/revoke")).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER);
        assert_eq!(again.location.as_deref(), Some(path.as_str()));
        drop(client);
        app
    })
    .await;
}

/// What the page's `<code id="…">` holds, as text.
fn code_block(body: &str, id: &str) -> String {
    let open = format!("<code id=\"{id}\">");
    let start = body.find(&open).unwrap_or_else(|| panic!("no {open} on the page")) + open.len();
    let end = start + body[start..].find("</code>").unwrap();
    body[start..end]
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The README's Power Query M is the page's, word for word (with the page's feed URL in the
/// README's placeholder), so the two cannot drift apart.
#[tokio::test]
async fn the_readme_shows_the_same_power_query_m_as_the_page() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let mut client = crate::pages::PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        let page = client.get(&format!("/a/{}/settings/datasync", fixture.sub1)).await;
        assert_eq!(page.status, StatusCode::OK);
        let feed_url = app.url(&format!("/odata/v4/koppel-{}/", fixture.sub1));
        let on_page: Vec<String> = ["m-import", "m-incremental"]
            .iter()
            .map(|id| code_block(&page.body, id).replace(&feed_url, "https://<host>/odata/v4/koppel-<id>/"))
            .collect();
        assert!(
            on_page[0].contains("OData.Feed(\"https://<host>/odata/v4/koppel-<id>/\""),
            "{}",
            on_page[0]
        );
        assert!(
            !on_page[0].contains("RangeStart"),
            "the plain import needs no parameters"
        );
        assert!(on_page[1].contains("DateTimeZone.From(RangeStart)"), "{}", on_page[1]);
        // The incremental variant says that RangeStart and RangeEnd must be created first.
        assert!(
            page.body
                .contains("RangeStart en RangeEnd zijn parameters die je eerst zelf maakt in Power BI Desktop")
        );
        assert!(
            page.body.contains("Parameters beheren (Manage Parameters)")
                && page.body.contains("Datum/tijd (Date/Time)")
        );

        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
        let in_readme: Vec<String> = readme
            .split("```powerquery\n")
            .skip(1)
            .map(|block| block.split("\n```").next().unwrap().to_string())
            .collect();
        assert_eq!(in_readme, on_page, "README.md and the Data Sync page show different M");
        drop(client);
        app
    })
    .await;
}

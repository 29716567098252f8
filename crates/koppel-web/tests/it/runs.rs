//! The run history over HTTP: lists with filters and cursors, one run with its items, live progress
//! as Server-Sent Events, cancelling and retrying, and who may do which.

use koppel_domain::AdministrationId;
use koppel_domain::rights::{Right, Rights};
use koppel_jobs::runs::{ItemStatus, NewRunItem, RunMessage};
use koppel_jobs::storage::jobs::{ClaimRequest, Finish, Lease, NewJob};
use koppel_store::Store;
use koppel_store::platform::{Actor, NewUser};
use koppel_test_support::TestApp;
use koppel_test_support::TestDatabase;
use koppel_web::WebConfig;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};
use std::time::Duration;

/// Enqueues a run of `kind` in an administration; returns its run id.
async fn enqueue(store: &Store, administration: AdministrationId, kind: &str) -> i64 {
    koppel_jobs::enqueue_committed(store, &NewJob::new(kind, json!({})).administration(administration))
        .await
        .expect("enqueue")
        .run()
        .0
}

/// Claims the one due job of `kind`, as a worker would.
async fn claim(store: &Store, kind: &str) -> Lease {
    let request = ClaimRequest {
        worker: "test-worker",
        kinds: &[kind],
        limit: 1,
        lease: chrono::Duration::seconds(60),
        reclaim: koppel_jobs::storage::jobs::Reclaim::DeadWorkersFirst,
    };
    koppel_jobs::testing::claim(store, &request)
        .await
        .expect("claim")
        .jobs
        .pop()
        .expect("a due job")
        .lease()
        .expect("a lease")
}

fn runs_path(administration: AdministrationId) -> String {
    format!("/api/v1/administrations/{administration}/runs")
}

#[tokio::test]
async fn runs_are_listed_newest_first_with_filters_and_cursors() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let sub1 = app.fixture.sub1;
        let token = app.token(&app.fixture.admin).await;
        let failed = enqueue(&store, sub1, "probe").await;
        let failure = Finish::Failed {
            message: RunMessage::new("De koppeling weigerde.", "The connection refused."),
            detail: "HTTP 401 from https://remote.example: token abc123 expired".into(),
        };
        assert!(
            koppel_jobs::testing::finish(&store, &claim(&store, "probe").await, &failure)
                .await
                .unwrap()
        );
        let manual = koppel_jobs::enqueue_committed(
            &store,
            &NewJob::new("probe", json!({}))
                .administration(sub1)
                .manual(app.fixture.admin.id),
        )
        .await
        .unwrap()
        .run()
        .0;
        let queued = enqueue(&store, sub1, "data_sync").await;
        enqueue(&store, app.fixture.sub2, "probe").await;

        let all = app.runs(&token, sub1, &[]).await;
        assert_eq!(all.status, StatusCode::OK);
        let ids: Vec<i64> = all.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![queued, manual, failed]);
        let first = &all.body["items"][2];
        assert_eq!(first["status"], "failed");
        assert_eq!(
            first["message"],
            json!({"nl": "De koppeling weigerde.", "en": "The connection refused."})
        );
        assert!(
            !all.body.to_string().contains("abc123"),
            "internal detail must not reach users"
        );

        let ids_of = |answer: &koppel_test_support::Answer| -> Vec<i64> {
            answer.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect()
        };
        assert_eq!(
            ids_of(&app.runs(&token, sub1, &[("status", "failed")]).await),
            vec![failed]
        );
        assert_eq!(
            ids_of(&app.runs(&token, sub1, &[("trigger", "manual")]).await),
            vec![manual]
        );
        assert_eq!(
            ids_of(&app.runs(&token, sub1, &[("kind", "data_sync")]).await),
            vec![queued]
        );

        let page = app.runs(&token, sub1, &[("limit", "2")]).await;
        assert_eq!(ids_of(&page), vec![queued, manual]);
        let cursor = page.body["next_cursor"].as_str().unwrap().to_string();
        let rest = app
            .runs(&token, sub1, &[("limit", "2"), ("cursor", cursor.as_str())])
            .await;
        assert_eq!(ids_of(&rest), vec![failed]);
        assert_eq!(rest.body["next_cursor"], Json::Null);

        for bad in [
            ("status", "exploded"),
            ("trigger", "cron"),
            ("limit", "0"),
            ("cursor", "zzz"),
            ("colour", "red"),
        ] {
            let answer = app.runs(&token, sub1, &[bad]).await;
            assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        }
        app
    })
    .await;
}

#[tokio::test]
async fn one_run_comes_with_its_items_in_pages() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let sub1 = app.fixture.sub1;
        let token = app.token(&app.fixture.user).await;
        let run = enqueue(&store, sub1, "probe").await;
        for (index, status) in [ItemStatus::Succeeded, ItemStatus::Failed, ItemStatus::Skipped]
            .into_iter()
            .enumerate()
        {
            let key = format!("work-orders/{index}");
            let message =
                (status == ItemStatus::Failed).then(|| RunMessage::new("Onbekende klant.", "Unknown customer."));
            koppel_jobs::runs::record_item(
                &store,
                koppel_jobs::RunId(run),
                &NewRunItem {
                    key: &key,
                    status,
                    message,
                    detail: Some("internal"),
                },
            )
            .await
            .unwrap();
        }
        let first = app.run_items(&token, sub1, run, &[("items_limit", "2")]).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        assert_eq!(first.body["id"], run);
        assert_eq!(first.body["status"], "queued");
        assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
        assert_eq!(first.body["items"][1]["message"]["en"], "Unknown customer.");
        let cursor = first.body["next_items_cursor"].as_str().unwrap().to_string();
        let rest = app
            .run_items(
                &token,
                sub1,
                run,
                &[("items_limit", "2"), ("items_cursor", cursor.as_str())],
            )
            .await;
        assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(rest.body["items"][0]["status"], "skipped");
        assert_eq!(rest.body["next_items_cursor"], Json::Null);
        assert!(!first.body.to_string().contains("internal"));
        app
    })
    .await;
}

#[tokio::test]
async fn another_administrations_run_is_not_found() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let theirs = enqueue(&store, app.fixture.sub2, "probe").await;
        let user = app.token(&app.fixture.user).await;
        for path in [
            format!("{}/{theirs}", runs_path(app.fixture.sub1)),
            format!("{}/{theirs}/events", runs_path(app.fixture.sub1)),
            format!("{}/{theirs}", runs_path(app.fixture.sub2)),
            runs_path(app.fixture.sub2),
        ] {
            let answer = app.get(&user, &path).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        }
        let answer = app.cancel_run(&user, app.fixture.sub1, theirs).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(
            koppel_jobs::runs::run(&store, app.fixture.sub2, koppel_jobs::RunId(theirs))
                .await
                .unwrap()
                .status,
            koppel_jobs::runs::RunStatus::Queued
        );
        app
    })
    .await;
}

#[tokio::test]
async fn cancelling_needs_the_features_right_and_answers_by_state() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let sub1 = app.fixture.sub1;
        let admin = app.token(&app.fixture.admin).await;
        let user = app.token(&app.fixture.user).await;

        // A queued diagnostic run: write_data is enough, and it is cancelled at once.
        let queued = enqueue(&store, sub1, "probe").await;
        let answer = app.cancel_run(&user, sub1, queued).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body["status"], "cancelled");
        assert_eq!(answer.body["cancelled_by"], json!(app.fixture.user.id));
        let again = app.cancel_run(&user, sub1, queued).await;
        assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "run_finished"));

        // A Data Sync run needs manage_datasync, which the user lacks.
        let sync = enqueue(&store, sub1, "data_sync").await;
        let refused = app.cancel_run(&user, sub1, sync).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(
            refused.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("manage_datasync")
        );

        // Running: the worker is asked to stop (202), the run says so until it has.
        claim(&store, "data_sync").await;
        let requested = app.cancel_run(&admin, sub1, sync).await;
        assert_eq!(requested.status, StatusCode::ACCEPTED, "{}", requested.body);
        assert_eq!(
            (
                requested.body["status"].as_str(),
                requested.body["cancel_requested"].as_bool()
            ),
            (Some("running"), Some(true))
        );

        // A reader may look but not cancel.
        let reader = store
            .create_user(NewUser {
                environment: app.fixture.environment,
                email: "kijker@example.nl",
                name: "Kijker",
                password: "alleen-kijken-2026",
                language: "nl",
            })
            .await
            .unwrap();
        store
            .set_rights(
                reader.id,
                sub1,
                [Right::ReadData].into_iter().collect::<Rights>(),
                Actor::SYSTEM,
            )
            .await
            .unwrap();
        let (_, reader_token) = store.create_api_token(reader.id, "kijker").await.unwrap();
        let probe = enqueue(&store, sub1, "probe").await;
        assert_eq!(app.run(&reader_token, sub1, probe).await.status, StatusCode::OK);
        let answer = app.cancel_run(&reader_token, sub1, probe).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        app
    })
    .await;
}

#[tokio::test]
async fn a_failed_run_is_retried_as_a_new_run() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let sub1 = app.fixture.sub1;
        let token = app.token(&app.fixture.user).await;
        let failed = enqueue(&store, sub1, "probe").await;
        let failure = Finish::Failed {
            message: RunMessage::new("Mislukt.", "Failed."),
            detail: "boom".into(),
        };
        assert!(
            koppel_jobs::testing::finish(&store, &claim(&store, "probe").await, &failure)
                .await
                .unwrap()
        );

        let answer = app.retry_run(&token, sub1, failed).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        assert_eq!(
            (answer.body["trigger"].as_str(), answer.body["retry_of"].as_i64()),
            (Some("retry"), Some(failed))
        );
        assert_eq!(answer.body["started_by"], json!(app.fixture.user.id));
        let location = answer.headers["location"].to_str().unwrap().to_string();
        assert_eq!(app.get(&token, &location).await.body["status"], "queued");

        let new_run = answer.body["id"].as_i64().unwrap();
        let refused = app.retry_run(&token, sub1, new_run).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::CONFLICT, "run_not_retryable")
        );
        app
    })
    .await;
}

/// One Server-Sent Event.
#[derive(Debug)]
struct ServerEvent {
    name: String,
    data: Json,
}

/// Reads a `text/event-stream` answer event by event.
struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl EventReader {
    /// The next event, or `None` when the server closed the stream. Keep-alive comments are skipped.
    async fn next(&mut self) -> Option<ServerEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_string();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return Some(ServerEvent {
                    name,
                    data: serde_json::from_str(&data).expect("JSON event data"),
                });
            }
            let chunk = tokio::time::timeout(Duration::from_secs(30), self.response.chunk())
                .await
                .expect("no event within 30 s")
                .expect("the stream broke")?;
            self.buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }
}

#[tokio::test]
async fn a_run_can_be_followed_live_until_it_ends() {
    for database in TestDatabase::all().await {
        let config = WebConfig {
            run_events_interval: Duration::from_millis(20),
            ..WebConfig::default()
        };
        let app = TestApp::spawn_with(database, config).await;
        let store = app.database.store().clone();
        let sub1 = app.fixture.sub1;
        let token = app.token(&app.fixture.user).await;
        let run = enqueue(&store, sub1, "probe").await;
        let response = app.run_events(&token, sub1, run).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let mut events = EventReader {
            response,
            buffer: String::new(),
        };

        let event = events.next().await.unwrap();
        assert_eq!(
            (event.name.as_str(), event.data["status"].as_str()),
            ("progress", Some("queued"))
        );

        // Each change the worker makes reaches the follower; the test waits for it before the next.
        let lease = claim(&store, "probe").await;
        let event = events.next().await.unwrap();
        assert_eq!(event.data["status"], "running");
        for done in 1..=3 {
            koppel_jobs::runs::set_progress(
                &store,
                koppel_jobs::RunId(run),
                done,
                Some(3),
                Some(&json!({"relations": done * 10})),
            )
            .await
            .unwrap();
            let event = events.next().await.unwrap();
            assert_eq!(event.name, "progress");
            assert_eq!(event.data["progress"], json!({"done": done, "total": 3}));
            assert_eq!(event.data["counts"]["relations"], done * 10);
        }
        let done = Finish::Succeeded {
            partial: false,
            message: Some(RunMessage::new("Klaar.", "Done.")),
            counts: None,
        };
        assert!(koppel_jobs::testing::finish(&store, &lease, &done).await.unwrap());
        let event = events.next().await.unwrap();
        assert_eq!(
            (event.name.as_str(), event.data["status"].as_str()),
            ("end", Some("succeeded"))
        );
        assert_eq!(event.data["message"]["nl"], "Klaar.");
        assert!(events.next().await.is_none(), "the stream closes after the end event");

        // A finished run answers with its final state and closes at once.
        let response = app.run_events(&token, sub1, run).await;
        let mut events = EventReader {
            response,
            buffer: String::new(),
        };
        assert_eq!(events.next().await.unwrap().name, "end");
        assert!(events.next().await.is_none());
        app.stop().await;
    }
}

/// The HTML of a page in `lang`, for a client that is logged in.
async fn page_in(client: &mut crate::pages::PageClient<'_>, lang: &str, path: &str) -> String {
    let start = client.get(path).await;
    let changed = client
        .post("/language", &[("csrf", &start.csrf()), ("lang", lang), ("back", "/")])
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER);
    let page = client.get(path).await;
    assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
    page.body
}

/// The page's own title: `<title>` without the administration's name and Koppel's after it.
fn title_of(html: &str) -> String {
    let start = html.find("<title>").expect("a title") + "<title>".len();
    let title = &html[start..start + html[start..].find("</title>").expect("a title's end")];
    let title = title.strip_suffix(" · Koppel").unwrap_or(title);
    title.rsplit_once(" · ").map_or(title, |(own, _)| own).to_string()
}

/// The text of the element with `id` (its first `</table>` or `</dl>` bounds it), tags removed.
fn text_of(html: &str, id: &str, end: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("#{id} in {html}"));
    let rest = &html[start..];
    let rest = &rest[rest.find('>').map_or(0, |at| at + 1)..];
    let rest = &rest[..rest.find(end).unwrap_or(rest.len())];
    let mut text = String::new();
    let mut in_tag = false;
    for character in rest.chars() {
        match character {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => text.push(character),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn run_pages_are_titled_by_what_ran_and_show_counts_per_kind_of_data() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let fixture = app.fixture.clone();
        let run = koppel_jobs::enqueue_committed(
            &store,
            &NewJob::new("data_sync", json!({"full": true}))
                .administration(fixture.sub1)
                .manual(fixture.admin.id),
        )
        .await
        .unwrap()
        .run()
        .0;
        // What koppel-datasync writes, plus a key no label was written for.
        let counts = json!({
            "sync": 1, "full": true, "inserted": 7005, "updated": 3, "deleted": 0,
            "Customers.inserted": 6999, "Customers.updated": 3, "Customers.deleted": 0,
            "Addresses.inserted": 6, "Addresses.updated": 0, "Addresses.deleted": 0,
            "Quotes.inserted": 0, "Quotes.updated": 0, "Quotes.deleted": 0,
            "effect_applied": 2,
        });
        let done = Finish::Succeeded {
            partial: false,
            message: None,
            counts: Some(counts),
        };
        assert!(
            koppel_jobs::testing::finish(&store, &claim(&store, "data_sync").await, &done)
                .await
                .unwrap()
        );
        let mut client = crate::pages::PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        let path = format!("/a/{}/runs/{run}", fixture.sub1);

        let dutch = page_in(&mut client, "nl", &path).await;
        let title = title_of(&dutch);
        assert!(title.starts_with("Data Sync · handmatig · "), "{title}");
        assert!(!title.contains("Taak") && !title.contains("UTC"), "{title}");
        let table = text_of(&dutch, "run-counts", "</table>");
        assert_eq!(
            table, "Gegevens nieuw gewijzigd verwijderd Klanten 6.999 3 0 Adressen 6 0 0 Totaal 7.005 3 0",
            "quotes had nothing and are left out"
        );
        let facts = text_of(&dutch, "run-count-facts", "</dl>");
        assert_eq!(
            facts,
            "Synchronisatienummer 1 Alles opnieuw gesynchroniseerd Ja Effect applied 2"
        );
        for raw in [
            "Addresses.inserted",
            "Customers",
            ">full<",
            "full true",
            ">sync<",
            "effect_applied",
            "targets_succeeded",
        ] {
            assert!(!dutch.contains(raw), "raw key {raw} in the page");
        }
        // The history lists the run by the same title.
        let history = page_in(&mut client, "nl", &format!("/a/{}/runs", fixture.sub1)).await;
        assert!(history.contains(&title), "{title} in the history");

        let english = page_in(&mut client, "en", &path).await;
        let title = title_of(&english);
        assert!(title.starts_with("Data Sync · manual · "), "{title}");
        let table = text_of(&english, "run-counts", "</table>");
        assert_eq!(
            table,
            "Data new changed deleted Customers 6,999 3 0 Addresses 6 0 0 Total 7,005 3 0"
        );
        assert!(english.contains("data-label=\"changed\""), "stacked cards need labels");
        app
    })
    .await;
}

#[tokio::test]
async fn a_settings_sync_run_names_its_targets_and_items_without_raw_keys() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let fixture = app.fixture.clone();
        let run = enqueue(&store, fixture.main, "settings_sync").await;
        let counts = json!({
            "created": 2, "updated": 1, "removed": 0, "unchanged": 4,
            "targets_succeeded": 1, "targets_failed": 0,
            "targets": [{"id": fixture.sub1.0, "name": "Vestiging Utrecht", "status": "succeeded"}],
        });
        let lease = claim(&store, "settings_sync").await;
        koppel_jobs::runs::record_item(
            &store,
            koppel_jobs::RunId(run),
            &NewRunItem {
                key: &format!("{}/templates/T-FACTUUR", fixture.sub1),
                status: ItemStatus::Succeeded,
                message: None,
                detail: None,
            },
        )
        .await
        .unwrap();
        let done = Finish::Succeeded {
            partial: false,
            message: None,
            counts: Some(counts),
        };
        assert!(koppel_jobs::testing::finish(&store, &lease, &done).await.unwrap());
        let mut client = crate::pages::PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        let dutch = page_in(&mut client, "nl", &format!("/a/{}/runs/{run}", fixture.main)).await;
        let title = title_of(&dutch);
        assert!(
            title.starts_with("Instellingen synchroniseren · automatisch · "),
            "{title}"
        );
        let table = text_of(&dutch, "run-counts", "</table>");
        assert_eq!(table, "Gegevens nieuw gewijzigd verwijderd ongewijzigd Totaal 2 1 0 4");
        let facts = text_of(&dutch, "run-count-facts", "</dl>");
        assert_eq!(facts, "Subadministraties bijgewerkt 1 Subadministraties mislukt 0");
        let items = text_of(&dutch, "run-items", "</table>");
        assert!(items.contains("Sjablonen · T-FACTUUR"), "{items}");
        assert!(
            !dutch.contains("templates/T-FACTUUR") && !dutch.contains("targets_"),
            "raw keys in the page"
        );
        app
    })
    .await;
}

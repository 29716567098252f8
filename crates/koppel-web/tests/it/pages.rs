//! The back office over plain HTTP: every page in both languages, the catalogue, gates, CSRF,
//! login throttling and flash messages. (The browser tests drive the same pages in Chromium.)

use koppel_test_support::TestApp;
use koppel_test_support::TestUser;
use koppel_web::pages::i18n::{EN, KEYS, Lang, NL};
use reqwest::StatusCode;
use std::collections::BTreeMap;

/// A browser stand-in: keeps cookies, reads hidden CSRF fields, does not follow redirects.
pub struct PageClient<'a> {
    app: &'a TestApp,
    cookies: BTreeMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("a csrf field") + marker.len();
        self.body[start..].split('"').next().unwrap().to_string()
    }
}

impl<'a> PageClient<'a> {
    pub fn new(app: &'a TestApp) -> PageClient<'a> {
        PageClient {
            app,
            cookies: BTreeMap::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        Page {
            status,
            location,
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .app
            .client
            .get(self.app.url(path))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .app
            .client
            .post(self.app.url(path))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    pub async fn log_in(&mut self, user: &TestUser) -> Page {
        let form = self.get("/login").await;
        let csrf = form.csrf();
        let page = self
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("email", &user.email),
                    ("password", &user.password),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        page
    }
}

#[test]
fn the_catalogue_has_every_text_in_both_languages() {
    assert!(KEYS.len() > 100, "the catalogue has {} keys", KEYS.len());
    for (key, nl, en) in KEYS {
        assert!(!nl.trim().is_empty(), "{key} has no Dutch text");
        assert!(!en.trim().is_empty(), "{key} has no English text");
        assert_eq!(
            nl.matches("{}").count(),
            en.matches("{}").count(),
            "{key}: Dutch and English take a different number of values"
        );
        assert_eq!(NL.get(key), Some(*nl));
        assert_eq!(EN.get(key), Some(*en));
    }
}

#[tokio::test]
async fn a_page_address_with_an_id_that_is_not_a_number_is_not_found_in_the_visitors_language() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let mut client = PageClient::new(&app);
        let anonymous = client.get("/a/abc/settings").await;
        assert_eq!(
            anonymous.status,
            StatusCode::SEE_OTHER,
            "log in first, whatever the address"
        );
        client.log_in(&fixture.admin).await;
        let main = fixture.main;
        for path in [
            "/a/abc/settings".to_string(),
            "/a/abc".to_string(),
            format!("/a/{main}/runs/latest"),
            format!("/a/{main}/settings/users/me"),
            format!("/a/{main}/settings/administrations/x/delete"),
        ] {
            let page = client.get(&path).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
            assert!(page.body.contains(NL.not_found_title), "{path}: {}", page.body);
        }
        // A number names something or nothing; the page says which, as before.
        let page = client.get("/a/0").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.location.as_deref(), Some("/a/0/settings"));
        let page = client.get("/a/0/settings").await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        drop(client);
        app
    })
    .await;
}

#[tokio::test]
async fn every_page_renders_in_both_languages() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let mut client = PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        let main = fixture.main;
        let pages = [
            format!("/a/{main}/settings"),
            format!("/a/{main}/settings/integrations"),
            format!("/a/{main}/settings/integrations/accountview"),
            format!("/a/{main}/settings/integrations/accountview/disconnect"),
            format!("/a/{main}/settings/datasync"),
            format!("/a/{main}/settings/administrations"),
            format!("/a/{main}/settings/administrations/{}/delete", fixture.sub1),
            format!("/a/{main}/settings/users"),
            format!("/a/{main}/settings/users/{}", fixture.user.id),
            format!("/a/{main}/settings/licences"),
            format!("/a/{main}/settings/licences/power_bi/deactivate"),
            format!("/a/{main}/settings/datasync/full-resync"),
            format!("/a/{main}/runs"),
            format!("/a/{}/settings/administrations", fixture.sub1),
        ];
        for lang in Lang::ALL {
            let start = client.get(&format!("/a/{main}/settings")).await;
            let changed = client
                .post(
                    "/language",
                    &[("csrf", &start.csrf()), ("lang", lang.code()), ("back", "/")],
                )
                .await;
            assert_eq!(changed.status, StatusCode::SEE_OTHER);
            let m = lang.messages();
            for path in &pages {
                let page = client.get(path).await;
                assert!(
                    matches!(page.status, StatusCode::OK | StatusCode::FORBIDDEN),
                    "{path} in {}: {}",
                    lang.code(),
                    page.status
                );
                assert!(
                    page.body.contains(&format!("<html lang=\"{}\">", lang.code())),
                    "{path}"
                );
                assert!(
                    page.body.contains(m.nav_settings),
                    "{path} lacks the navigation in {}",
                    lang.code()
                );
                assert!(!page.body.contains("{}"), "{path} has an unfilled placeholder");
            }
        }
        // The sub's Administrations page is a gate that says why, not an error.
        let gate = client
            .get(&format!("/a/{}/settings/administrations", fixture.sub1))
            .await;
        assert_eq!(gate.status, StatusCode::FORBIDDEN);
        assert!(gate.body.contains("Hoofdkantoor"), "{}", gate.body);
        drop(client);
        app
    })
    .await;
}

#[tokio::test]
async fn pages_need_a_session_and_forms_need_their_token() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let mut client = PageClient::new(&app);
        let anonymous = client.get(&format!("/a/{}/settings/users", fixture.main)).await;
        assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
        assert_eq!(
            anonymous.location.as_deref(),
            Some(format!("/login?next=/a/{}/settings/users", fixture.main).as_str())
        );
        client.log_in(&fixture.admin).await;
        let path = format!("/a/{}/settings/administrations", fixture.main);
        let forged = client
            .post(&path, &[("csrf", "forged"), ("name", "Vestiging Gouda")])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let missing = client.post(&path, &[("name", "Vestiging Gouda")]).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN);
        let administrations = app.database.store().administrations(fixture.environment).await.unwrap();
        assert_eq!(administrations.len(), 3, "nothing was created by a forged form");

        // With the token it works, and the flash message is shown exactly once.
        let list = client.get(&path).await;
        let created = client
            .post(&path, &[("csrf", &list.csrf()), ("name", "Vestiging Gouda")])
            .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER);
        let shown = client.get(&path).await;
        assert!(
            shown.body.contains("Administratie Vestiging Gouda is aangemaakt."),
            "{}",
            shown.body
        );
        let again = client.get(&path).await;
        assert!(!again.body.contains("is aangemaakt"));

        // A duplicate name is refused with a clear message and the typed value kept.
        let duplicate = client
            .post(&path, &[("csrf", &list.csrf()), ("name", "Vestiging Gouda")])
            .await;
        assert_eq!(duplicate.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            duplicate
                .body
                .contains("Er is al een administratie met de naam Vestiging Gouda")
        );
        drop(client);
        app
    })
    .await;
}

#[tokio::test]
async fn wrong_passwords_are_told_and_then_throttled() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let mut client = PageClient::new(&app);
        let form = client.get("/login").await;
        let csrf = form.csrf();
        for _ in 0..5 {
            let wrong = client
                .post(
                    "/login",
                    &[
                        ("csrf", &csrf),
                        ("email", &fixture.user.email),
                        ("password", "niet-het-wachtwoord"),
                    ],
                )
                .await;
            assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
            assert!(wrong.body.contains("Het e-mailadres of het wachtwoord is onjuist."));
        }
        let locked = client
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("email", &fixture.user.email),
                    ("password", &fixture.user.password),
                ],
            )
            .await;
        assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(locked.body.contains("Te veel mislukte pogingen"), "{}", locked.body);
        drop(client);
        app
    })
    .await;
}

#[tokio::test]
async fn rights_are_granted_and_revoked_per_administration() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let store = app.database.store().clone();
        let mut client = PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        let path = format!("/a/{}/settings/users/{}", fixture.main, fixture.user.id);
        let edit = client.get(&path).await;
        let sub1 = format!("rights-{}", fixture.sub1);
        let sub2 = format!("rights-{}", fixture.sub2);
        let saved = client
            .post(
                &path,
                &[
                    ("csrf", &edit.csrf()),
                    (&sub1, "read_data"),
                    (&sub2, "read_data"),
                    (&sub2, "manage_datasync"),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let sub1_rights = store.rights(fixture.user.id, fixture.sub1).await.unwrap().unwrap();
        assert_eq!(
            sub1_rights.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            ["read_data"]
        );
        let sub2_rights = store.rights(fixture.user.id, fixture.sub2).await.unwrap().unwrap();
        assert_eq!(sub2_rights.iter().count(), 2);
        // No boxes for sub 2 takes access away.
        let revoked = client
            .post(&path, &[("csrf", &edit.csrf()), (&sub1, "read_data")])
            .await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER);
        assert_eq!(store.rights(fixture.user.id, fixture.sub2).await.unwrap(), None);
        // An administrator cannot lock themselves out.
        let own = format!("/a/{}/settings/users/{}", fixture.main, fixture.admin.id);
        let main_box = format!("rights-{}", fixture.main);
        let lockout = client
            .post(&own, &[("csrf", &edit.csrf()), (&main_box, "read_data")])
            .await;
        assert_eq!(lockout.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            store
                .rights(fixture.admin.id, fixture.main)
                .await
                .unwrap()
                .unwrap()
                .iter()
                .count()
                > 1
        );
        drop(client);
        app
    })
    .await;
}

#[tokio::test]
async fn licences_are_switched_and_audited() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let store = app.database.store().clone();
        let mut client = PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        let list = client.get(&format!("/a/{}/settings/licences", fixture.main)).await;
        assert!(list.body.contains("Proefperiode tot en met"), "{}", list.body);
        let path = format!("/a/{}/settings/licences/power_bi", fixture.main);
        let off = client
            .post(&path, &[("csrf", &list.csrf()), ("state", "inactive")])
            .await;
        assert_eq!(off.status, StatusCode::SEE_OTHER);
        // Data Sync now says which power-up is missing.
        let gate = client.get(&format!("/a/{}/settings/datasync", fixture.main)).await;
        assert_eq!(gate.status, StatusCode::FORBIDDEN);
        assert!(
            gate.body.contains("De power-up ‘Power BI (Data Sync)’ is niet actief"),
            "{}",
            gate.body
        );
        let audit = store.audit_log(fixture.environment, None, 50).await.unwrap();
        assert!(
            audit
                .iter()
                .any(|e| e.action.starts_with("licence") && e.user_id == Some(fixture.admin.id.0)),
            "{audit:?}"
        );
        drop(client);
        app
    })
    .await;
}

/// Deactivating a power-up confirms first, saying what stops and that no data is deleted.
#[tokio::test]
async fn deactivating_a_licence_confirms_first_saying_what_stops() {
    use koppel_domain::licence::LicenceState;
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let mut client = PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        let path = format!("/a/{}/settings/licences", fixture.main);
        let list = client.get(&path).await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains("<h1>Licentie Manager</h1>"), "{}", list.body);
        // Deactivating is a link to the confirmation, not a form that acts at once.
        assert!(list.body.contains(&format!(
            r#"id="deactivate-power_bi" href="{path}/power_bi/deactivate""#
        )));
        assert!(!list.body.contains(r#"name="state" value="inactive""#));
        for (code, stops) in [
            ("power_bi", NL.licence_deactivate_power_bi),
            ("sub_administrations", NL.licence_deactivate_sub_administrations),
        ] {
            let confirm = client.get(&format!("{path}/{code}/deactivate")).await;
            assert_eq!(confirm.status, StatusCode::OK, "{code}");
            assert!(confirm.body.contains(stops), "{code}: {}", confirm.body);
            assert!(confirm.body.contains(NL.licence_deactivate_no_data), "{code}");
            assert!(
                confirm
                    .body
                    .contains(&format!(r#"<form method="post" action="{path}/{code}""#))
            );
            assert!(
                confirm
                    .body
                    .contains(r#"<input type="hidden" name="state" value="inactive">"#)
            );
            assert!(
                confirm
                    .body
                    .contains(r#"class="danger" id="confirm-submit">Ja, deactiveren</button>"#)
            );
            assert!(
                confirm
                    .body
                    .contains(&format!(r#"href="{path}" id="confirm-cancel">Annuleren</a>"#))
            );
        }
        let confirm = client.get(&format!("{path}/power_bi/deactivate")).await;
        assert!(confirm.body.contains("Power BI kan dan niet meer verversen"));
        assert!(
            confirm.body.contains("<h1>Power BI (Data Sync) deactiveren</h1>"),
            "{}",
            confirm.body
        );
        let store = app.database.store();
        assert_eq!(
            power_bi_state(store, fixture.environment).await,
            LicenceState::Active,
            "opening the confirmation changes nothing"
        );
        let unknown = client.get(&format!("{path}/nonsense/deactivate")).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        let done = client
            .post(
                &format!("{path}/power_bi"),
                &[("csrf", &confirm.csrf()), ("state", "inactive")],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        assert_eq!(power_bi_state(store, fixture.environment).await, LicenceState::Inactive);
        let list = client.get(&path).await;
        assert!(list.body.contains("Er zijn geen gegevens verwijderd"), "{}", list.body);
        drop(client);
        app
    })
    .await;
}

async fn power_bi_state(
    store: &koppel_store::Store,
    environment: koppel_domain::EnvironmentId,
) -> koppel_domain::licence::LicenceState {
    store
        .licences(environment)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.power_up == koppel_domain::licence::PowerUp::PowerBi)
        .unwrap()
        .state
}

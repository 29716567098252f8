//! The back office's flows in a browser (log in, switch, language, subs, rights, the three jobs).

use super::*;

#[tokio::test]
async fn log_in_switch_administration_and_change_language() {
    scenario("switch-and-language", |app, browser| async move {
        let outcome: Outcome = async {
            let fixture = &app.fixture;
            // A wrong password is told plainly.
            browser.log_in(&app, &fixture.admin, "dit-is-het-niet").await?;
            let error = browser.text("#login-error").await?;
            check!(error.contains("onjuist"), "wrong-password message: {error}");
            // The right one lands in Settings of the main administration.
            browser.log_in(&app, &fixture.admin, &fixture.admin.password).await?;
            check!(
                browser.path().await? == format!("/a/{}/settings", fixture.main),
                "landed on {}",
                browser.path().await?
            );
            check!(
                browser.text("#current-administration").await? == "Hoofdkantoor",
                "top bar"
            );
            // Switching (a link in the administration dropdown, no separate button) keeps the page and the session.
            browser.click_and_load("#nav-users").await?;
            browser.switch_to(fixture.sub1).await?;
            let path = browser.path().await?;
            check!(
                path == format!("/a/{}/settings/users", fixture.sub1),
                "after switching: {path}"
            );
            check!(
                browser.text("#current-administration").await? == "Vestiging Utrecht",
                "top bar after switching"
            );
            // English from the user menu, remembered across logging out and in again.
            browser.open_user_menu().await?;
            browser.click_and_load("#language-en").await?;
            browser.open_user_menu().await?;
            check!(
                browser.text("#logout").await? == "Log out",
                "English after switching language"
            );
            check!(browser.path().await? == path, "language change returned to {path}");
            browser.click_and_load("#logout").await?;
            check!(
                browser.text("#flash").await?.contains("logged out"),
                "logged-out message in English"
            );
            browser.log_in(&app, &fixture.admin, &fixture.admin.password).await?;
            check!(
                browser.text("#nav-licences").await? == "Licence Manager",
                "English remembered"
            );
            Ok(())
        }
        .await;
        (app, browser, outcome)
    })
    .await;
}

#[tokio::test]
async fn create_and_delete_subs_up_to_the_capacity() {
    scenario("administrations", |app, browser| async move {
        let outcome: Outcome = async {
            let fixture = &app.fixture;
            browser.log_in(&app, &fixture.admin, &fixture.admin.password).await?;
            browser.click_and_load("#nav-administrations").await?;
            check!(browser.text("#capacity").await?.contains("2 van 5"), "capacity before");
            for name in ["Vestiging Amersfoort", "Vestiging Breda", "Vestiging Deventer"] {
                browser.fill("#new-name", name).await?;
                browser.click_and_load("#create-submit").await?;
                let flash = browser.text("#flash").await?;
                check!(flash.contains(name), "created {name}: {flash}");
            }
            // The capacity is used up: the button is disabled and says why.
            let button = browser.client.find(Locator::Css("#create-submit")).await?;
            check!(
                button.attr("disabled").await?.is_some(),
                "create is disabled at capacity"
            );
            let reason = browser.text("#create-reason").await?;
            check!(reason.contains("Alle 5 subadministraties"), "reason: {reason}");
            // Delete one: the action menu, a warning, a wrong name, then the right one.
            let breda = app
                .database
                .store()
                .administrations(fixture.environment)
                .await?
                .into_iter()
                .find(|a| a.name == "Vestiging Breda")
                .ok_or("Vestiging Breda was not created")?;
            browser
                .click(&format!("tr[data-administration='{}'] summary", breda.id))
                .await?;
            browser.click_and_load(&format!("#delete-{}", breda.id)).await?;
            let warning = browser.text("#delete-warning").await?;
            check!(warning.contains("definitief"), "warning: {warning}");
            browser.fill("#confirm", "Vestiging Bred").await?;
            browser.click_and_load("#delete-submit").await?;
            check!(
                browser.text("#delete-error").await?.contains("komt niet overeen"),
                "mismatch"
            );
            browser.fill("#confirm", "Vestiging Breda").await?;
            browser.click_and_load("#delete-submit").await?;
            let flash = browser.text("#flash").await?;
            check!(flash.contains("Vestiging Breda is verwijderd"), "deleted: {flash}");
            let button = browser.client.find(Locator::Css("#create-submit")).await?;
            check!(button.attr("disabled").await?.is_none(), "create is enabled again");
            // The main has no delete action.
            let main_row = format!("tr[data-administration='{}'] a.danger", fixture.main);
            check!(
                browser.client.find_all(Locator::Css(&main_row)).await?.is_empty(),
                "the main has a delete action"
            );
            Ok(())
        }
        .await;
        (app, browser, outcome)
    })
    .await;
}

#[tokio::test]
async fn a_user_without_the_right_is_told_why() {
    scenario("no-right", |app, browser| async move {
        let outcome: Outcome = async {
            let fixture = &app.fixture;
            browser.log_in(&app, &fixture.user, &fixture.user.password).await?;
            check!(
                browser.path().await? == format!("/a/{}/settings", fixture.sub1),
                "the user lands in their only administration"
            );
            // One administration: no switcher.
            check!(
                browser.client.find_all(Locator::Css("#admin-menu")).await?.is_empty(),
                "a switcher with one administration"
            );
            browser.click_and_load("#nav-administrations").await?;
            let gate = browser.text("#gate").await?;
            check!(
                gate.contains("alleen in de hoofdadministratie Hoofdkantoor"),
                "gate: {gate}"
            );
            check!(
                gate.contains("Administraties, gebruikers en licenties beheren"),
                "gate: {gate}"
            );
            browser.click_and_load("#nav-datasync").await?;
            let gate = browser.text("#gate").await?;
            check!(gate.contains("Data Sync beheren"), "data sync gate: {gate}");
            browser.click_and_load("#nav-integrations").await?;
            browser
                .click_and_load("a[href$='/settings/integrations/accountview']")
                .await?;
            let gate = browser.text("#gate").await?;
            check!(
                gate.contains("Software-integraties beheren"),
                "AccountView gate: {gate}"
            );
            // Another administration's pages do not exist for this user.
            browser
                .client
                .goto(&app.url(&format!("/a/{}/settings", fixture.main)))
                .await?;
            check!(browser.text("h1").await? == "Niet gevonden", "the main is hidden");
            Ok(())
        }
        .await;
        (app, browser, outcome)
    })
    .await;
}

#[tokio::test]
async fn sync_settings_to_two_of_three_subs() {
    // With a worker polling often, as `koppel serve` runs one beside the web server.
    let setup = |app: TestAppBuilder| app.with_worker([JobKind::SettingsSync]);
    scenario_with("settings-sync", setup, |app, browser| async move {
        let store = app.database.store().clone();
        let outcome: Outcome = async {
            let fixture = &app.fixture;
            crate::settingsync::seed_settings(&store, fixture.main).await;
            let third = store
                .create_administration(
                    koppel_store::platform::NewAdministration {
                        environment: fixture.environment,
                        name: "Vestiging Deventer",
                        is_main: false,
                    },
                    koppel_store::platform::Actor::SYSTEM,
                )
                .await?;
            browser.log_in(&app, &fixture.admin, &fixture.admin.password).await?;
            browser.click_and_load("#nav-administrations").await?;
            browser
                .click(&format!("tr[data-administration='{}'] summary", fixture.main))
                .await?;
            browser.click_and_load(&format!("#sync-{}", fixture.main)).await?;
            // Step 1 and 2: two of the three subs, forms and workflows.
            browser.click(&format!("#target-{}", fixture.sub1)).await?;
            browser.click(&format!("#target-{}", fixture.sub2)).await?;
            browser.click("#category-forms").await?;
            browser.click("#category-workflows").await?;
            browser.click_and_load("#sync-preview").await?;
            // Step 3: the preview names what happens per sub.
            let preview = browser.text(&format!("#preview-{}", fixture.sub1)).await?;
            check!(
                preview.contains("Workflows · CV-ketel onderhoud"),
                "preview of sub 1: {preview}"
            );
            check!(
                preview.contains("Werksoorten · Onderhoud"),
                "the work type is pulled in: {preview}"
            );
            check!(
                browser
                    .client
                    .find_all(Locator::Css(&format!("#preview-{}", third.id)))
                    .await?
                    .is_empty(),
                "the third sub is in the preview"
            );
            // Step 4: confirm; the run page follows the run to its end.
            browser.click_and_load("#sync-confirm").await?;
            let mut status = String::new();
            for _ in 0..100 {
                status = browser.text("#run-status").await.unwrap_or_default();
                if status == "Geslaagd" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            check!(status == "Geslaagd", "run status: {status}");
            let per_target = browser.text("#run-targets").await?;
            check!(
                per_target.contains("Vestiging Utrecht") && per_target.matches("Geslaagd").count() == 2,
                "progress per target: {per_target}"
            );
            let results = browser.text("#run-items").await?;
            check!(results.contains("Vestiging Utrecht"), "results: {results}");
            check!(results.contains("Vestiging Zwolle"), "results: {results}");
            let facts = browser.text("#run dl").await?;
            check!(facts.contains("Gestart door\nAnna Beheerder"), "who: {facts}");
            check!(facts.contains("Formulieren, Workflows"), "categories: {facts}");
            // The third sub is untouched.
            let mut tx = store.snapshot().await?;
            let forms = tx.all_records(third.id, &koppel_domain::resources::FORMS).await?;
            let workflows = tx.all_records(third.id, &koppel_domain::resources::WORKFLOWS).await?;
            tx.rollback().await?;
            check!(
                forms.is_empty() && workflows.is_empty(),
                "the third sub received settings"
            );
            Ok(())
        }
        .await;
        (app, browser, outcome)
    })
    .await;
}

/// The seed flow of Data Sync: Settings → Data Sync → Autosync on → Save → an automatic run appears
/// in the sync history (a one-second interval here); Sync now → a manual run appears.
#[tokio::test]
async fn data_sync_autosync_and_sync_now() {
    scenario("data-sync", |app, browser| async move {
        let store = app.database.store().clone();
        let mut registry = koppel_jobs::Registry::new();
        registry.register(koppel_datasync::DataSync::new(chrono::Duration::hours(6)));
        let queue = koppel_jobs::Queue::new(store.clone(), 3);
        // Switching Autosync on fires at once; the next period only after a minute, so "Sync now"
        // below finds no automatic sync queued or running to join, however slow the machine is.
        let autosync =
            vec![koppel_jobs::Periodic::of::<koppel_datasync::DataSync>(Duration::from_secs(60)).expect("periodic")];
        let scheduler = koppel_jobs::Scheduler::new(
            &queue,
            &registry,
            autosync,
            koppel_jobs::SchedulerConfig {
                tick_interval: Duration::from_millis(200),
            },
        )
        .expect("scheduler");
        let worker = koppel_jobs::testing::worker(&queue, registry).spawn();
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let background = tokio::spawn(async move {
            scheduler
                .run(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
        });
        let outcome: Outcome = async {
            let fixture = &app.fixture;
            browser.log_in(&app, &fixture.admin, &fixture.admin.password).await?;
            let page = app.url(&format!("/a/{}/settings/datasync", fixture.sub1));
            browser.client.goto(&page).await?;
            check!(
                browser.text("#ds-freshness").await?.contains("nog niet"),
                "freshness before the first sync"
            );
            browser.click("#autosync").await?;
            browser.click_and_load("#autosync-save").await?;
            let flash = browser.text("#flash").await?;
            check!(flash.contains("Autosync staat aan"), "flash: {flash}");
            // An automatic run appears in the history without anyone clicking.
            let mut history = String::new();
            for _ in 0..100 {
                browser.client.goto(&page).await?;
                history = browser.text("#sync-history").await.unwrap_or_default();
                if history.contains("Automatisch") && history.contains("Geslaagd") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            check!(
                history.contains("Automatisch") && history.contains("Geslaagd"),
                "history: {history}"
            );
            check!(
                browser.text("#ds-freshness").await?.contains("Gegevens bijgewerkt tot"),
                "freshness after a sync"
            );
            // Sync now: the run's page, then a manual run in the history.
            browser.click_and_load("#sync-now").await?;
            check!(browser.path().await?.contains("/runs/"), "sync now leads to the run");
            let mut found = false;
            for _ in 0..100 {
                browser.client.goto(&page).await?;
                let history = browser.text("#sync-history").await.unwrap_or_default();
                if history.contains("Handmatig") {
                    found = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            check!(found, "a manual run appears in the history");
            Ok(())
        }
        .await;
        let _ = stop.send(true);
        let _ = background.await;
        worker.stop().await;
        (app, browser, outcome)
    })
    .await;
}

/// The seed flow of AccountView: Settings → Software integrations → AccountView → Inloggen →
/// AccountView's login and consent pages (the sandbox) → back → choose the administration → Save →
/// import → configure the export from the imported codes → check → Save. Denying first ends on the
/// page with a clear message and no connection.
#[tokio::test]
async fn accountview_log_in_choose_configure_and_save_in_a_browser() {
    use crate::accountview::{DEMO_USER, VDB_2026_ID};
    let setup = |app: TestAppBuilder| app.with_sandbox().with_worker([JobKind::AccountView]);
    scenario_with("accountview", setup, |app, browser| async move {
        let outcome: Outcome = async {
            let fixture = &app.fixture;
            browser.log_in(&app, &fixture.admin, &fixture.admin.password).await?;
            browser.click_and_load("#nav-integrations").await?;
            browser
                .click_and_load("a[href$='/settings/integrations/accountview']")
                .await?;
            let page_path = format!("/a/{}/settings/integrations/accountview", fixture.main);
            check!(browser.path().await? == page_path, "on the AccountView page");

            // Log in at AccountView, then deny on the consent page.
            for decision in ["deny", "approve"] {
                browser.click_and_load("#av-sign-in").await?;
                check!(
                    browser.text("h1").await? == "Inloggen bij AccountView",
                    "AccountView's login page"
                );
                browser.fill("#username", DEMO_USER).await?;
                browser.fill("#password", "sandbox").await?;
                browser.click_and_load("button.primary").await?;
                check!(browser.text("h1").await? == "Toegang verlenen", "the consent page");
                browser.click_and_load(&format!("button[value='{decision}']")).await?;
                check!(browser.path().await? == page_path, "back on the AccountView page");
                let flash = browser.text("#flash").await?;
                if decision == "deny" {
                    check!(flash.contains("geen toegang gegeven"), "deny message: {flash}");
                    check!(
                        app.accountview().connection(fixture.main).await?.is_none(),
                        "connected after a deny"
                    );
                } else {
                    check!(flash.contains("Verbonden met AccountView"), "connect message: {flash}");
                }
            }

            // General settings: choose the administration and save.
            browser
                .client
                .find(Locator::Css("#av-company"))
                .await?
                .select_by_value(VDB_2026_ID)
                .await?;
            browser.click_and_load("#av-save").await?;
            let flash = browser.text("#flash").await?;
            check!(flash.contains("opgeslagen"), "save message: {flash}");
            let locked = browser.text("#av-company-locked").await?;
            check!(locked.contains("ontkoppel"), "the lock is explained: {locked}");

            // Import everything now; the log panel shows the run when it has finished.
            browser.click_and_load("#import-now-all").await?;
            let mut log = String::new();
            for _ in 0..150 {
                browser.client.goto(&app.url(&page_path)).await?;
                log = browser.text("#av-log").await?;
                if log.contains("Geslaagd") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            check!(
                log.contains("AccountView-import") && log.contains("Geslaagd"),
                "log: {log}"
            );

            // Export settings: every code chosen from what was imported.
            browser.click("#export-enabled").await?;
            for (select, value) in [
                ("#code-sales_journal", "VRK"),
                ("#code-hours_account", "8000"),
                ("#code-materials_account", "8100"),
                ("#code-vat_21", "2"),
                ("#code-vat_9", "1"),
                ("#code-vat_0", "0"),
                ("#code-vat_verlegd", "3"),
            ] {
                browser
                    .client
                    .find(Locator::Css(select))
                    .await?
                    .select_by_value(value)
                    .await?;
            }
            browser.click_and_load("#av-check-button").await?;
            let check = browser.text("#av-check-result").await?;
            let problems = browser
                .client
                .find_all(Locator::Css("#av-check-result li.problem"))
                .await?
                .len();
            check!(
                check.contains("Verkoopdagboek VRK") && problems == 0,
                "check ({problems} problems): {check}"
            );
            browser.click_and_load("#av-save").await?;
            let flash = browser.text("#flash").await?;
            check!(flash.contains("opgeslagen"), "save message: {flash}");
            let connection = app
                .accountview()
                .connection(fixture.main)
                .await?
                .ok_or("not connected")?;
            let settings = koppel_accountview::Settings::of(&connection);
            check!(
                settings.export.enabled && settings.export.sales_journal.as_deref() == Some("VRK"),
                "saved export settings: {settings:?}"
            );
            check!(
                settings.export.vat_codes.get("verlegd").map(String::as_str) == Some("3"),
                "verlegd mapping: {settings:?}"
            );
            Ok(())
        }
        .await;
        (app, browser, outcome)
    })
    .await;
}

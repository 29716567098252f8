//! Help page 000, "Schakel automatische synchronisatie in", walked step by step in Dutch and once in English.

use super::*;

/// A worker for Data Sync with the scheduler that fires Autosync, as `koppel serve` runs beside the
/// web server: switching Autosync on fires at once, the next period only after a minute.
struct DataSyncWorker {
    stop: tokio::sync::watch::Sender<bool>,
    scheduler: tokio::task::JoinHandle<()>,
    worker: koppel_jobs::testing::BackgroundWorker,
}

impl DataSyncWorker {
    fn start(app: &TestApp) -> DataSyncWorker {
        let store = app.database.store().clone();
        let mut registry = koppel_jobs::Registry::new();
        registry.register(koppel_datasync::DataSync::new(chrono::Duration::hours(6)));
        let queue = koppel_jobs::Queue::new(store, 3);
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
        let scheduler = tokio::spawn(async move {
            scheduler
                .run(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
        });
        DataSyncWorker {
            stop,
            scheduler,
            worker,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.scheduler.await;
        self.worker.stop().await;
    }
}

/// The words of one language the walk checks, taken from the help page (Dutch) and its faithful
/// English equivalents.
struct Words {
    nav: &'static str,
    title: &'static str,
    autosync: &'static str,
    off: &'static str,
    on: &'static str,
    save: &'static str,
    saved: &'static str,
    history: &'static str,
    automatic: &'static str,
    succeeded: &'static str,
    hint: &'static str,
    sync_now: &'static str,
}

const DUTCH: Words = Words {
    nav: "Data Sync",
    title: "Data Sync",
    autosync: "Autosync",
    off: "Uit",
    on: "Aan",
    save: "Opslaan",
    saved: "Autosync staat aan",
    history: "Synchronisatiegeschiedenis",
    automatic: "Automatisch",
    succeeded: "Geslaagd",
    hint: "Je kunt nog steeds handmatig synchroniseren wanneer je direct actuele gegevens nodig hebt.",
    sync_now: "Nu synchroniseren",
};

const ENGLISH: Words = Words {
    nav: "Data Sync",
    title: "Data Sync",
    autosync: "Autosync",
    off: "Off",
    on: "On",
    save: "Save",
    saved: "Autosync is on",
    history: "Sync history",
    automatic: "Automatic",
    succeeded: "Succeeded",
    hint: "You can still sync manually when you need up-to-date data right away.",
    sync_now: "Sync now",
};

/// The id of the element that has the keyboard focus.
async fn focused(browser: &Browser) -> Result<String, fantoccini::error::CmdError> {
    let id = browser
        .client
        .execute(
            "return document.activeElement ? document.activeElement.id : '';",
            Vec::new(),
        )
        .await?;
    Ok(id.as_str().unwrap_or_default().to_string())
}

/// Presses keys on the focused element and waits for the page they load.
async fn press_and_load(browser: &Browser, keys: &str) -> Outcome {
    browser
        .client
        .execute("document.documentElement.dataset.leaving = 'yes';", Vec::new())
        .await?;
    browser.client.active_element().await?.send_keys(keys).await?;
    browser.wait_for_load(&format!("pressing {keys:?}")).await
}

/// Settings → Data Sync → Autosync → switch it on (keyboard only) → Opslaan → the saved message →
/// later a run in the sync history. `settings` is the Settings page of the administration walked.
async fn walk_help_000(browser: &Browser, app: &TestApp, settings: &str, words: &Words) -> Outcome {
    // Step 1: Open Data Sync: "Ga naar Instellingen → Data Sync."
    browser.client.goto(&app.url(settings)).await?;
    let nav = browser.text("#nav-datasync").await?;
    check!(nav == words.nav, "the menu item: {nav}");
    browser.click_and_load("#nav-datasync").await?;
    let title = browser.text("h1").await?;
    check!(title == words.title, "the page title: {title}");
    let page = browser.path().await?;

    // Step 2: "Zoek de Autosync optie."
    let label = browser.text("#autosync-label").await?;
    check!(label == words.autosync, "the switch's label: {label}");
    let switch = browser.client.find(Locator::Css("#autosync")).await?;
    check!(
        switch.attr("role").await?.as_deref() == Some("switch"),
        "Autosync is a switch"
    );
    check!(!switch.is_selected().await?, "Autosync starts off");
    let state = browser.text("#autosync-state").await?;
    check!(state == words.off, "the switch says it is off: {state}");

    // Step 3: "Schakel de instelling in." By keyboard: Space on the focused switch.
    browser
        .client
        .execute("document.getElementById('autosync').focus();", Vec::new())
        .await?;
    check!(focused(browser).await? == "autosync", "the switch takes the focus");
    browser.client.active_element().await?.send_keys(" ").await?;
    check!(switch.is_selected().await?, "Space switched Autosync on");
    let state = browser.text("#autosync-state").await?;
    check!(state == words.on, "the switch says it is on: {state}");

    // Step 4: "Klik Opslaan." Tab reaches it next; Enter presses it.
    browser.client.active_element().await?.send_keys("\u{E004}").await?;
    check!(
        focused(browser).await? == "autosync-save",
        "Tab after the switch reaches {} (focus on {:?})",
        words.save,
        focused(browser).await?
    );
    let save = browser.text("#autosync-save").await?;
    check!(save == words.save, "the save button: {save}");
    press_and_load(browser, "\u{E007}").await?;
    check!(browser.path().await? == page, "saving returns to the Data Sync page");
    let flash = browser.text("#flash").await?;
    check!(flash.contains(words.saved), "the saved message: {flash}");
    let switch = browser.client.find(Locator::Css("#autosync")).await?;
    check!(switch.is_selected().await?, "Autosync stays on after saving");

    // The hint: syncing by hand still works, and it is the page's main action.
    let hint = browser.text("#ds-manual-hint").await?;
    check!(hint == words.hint, "the hint: {hint}");
    let sync_now = browser.client.find(Locator::Css("#sync-now")).await?;
    check!(
        sync_now.text().await?.trim() == words.sync_now,
        "the manual sync button: {}",
        sync_now.text().await?
    );
    check!(
        sync_now.attr("class").await?.as_deref() == Some("primary"),
        "{} is the primary action",
        words.sync_now
    );

    // Step 5: "Bekijk later de synchronisatiegeschiedenis om de uitvoeringen te bevestigen."
    let heading = browser.text("#ds-history-title").await?;
    check!(heading == words.history, "the history heading: {heading}");
    let mut history = String::new();
    for _ in 0..150 {
        browser.client.goto(&app.url(&page)).await?;
        history = browser.text("#ds-history").await.unwrap_or_default();
        if history.contains(words.automatic) && history.contains(words.succeeded) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check!(
        history.contains(words.automatic) && history.contains(words.succeeded),
        "the history shows an automatic run that succeeded: {history}"
    );
    Ok(())
}

#[tokio::test]
async fn help_000_switch_autosync_on_in_dutch_then_in_english() {
    scenario("help-000-autosync", |app, browser| async move {
        let worker = DataSyncWorker::start(&app);
        let outcome: Outcome = async {
            let fixture = &app.fixture;
            browser.log_in(&app, &fixture.admin, &fixture.admin.password).await?;
            walk_help_000(&browser, &app, &format!("/a/{}/settings", fixture.main), &DUTCH).await?;

            // Once more in English, in another administration (its Autosync is still off).
            app.database.store().set_user_language(fixture.admin.id, "en").await?;
            browser.log_in(&app, &fixture.admin, &fixture.admin.password).await?;
            walk_help_000(&browser, &app, &format!("/a/{}/settings", fixture.sub1), &ENGLISH).await?;
            Ok(())
        }
        .await;
        worker.stop().await;
        (app, browser, outcome)
    })
    .await;
}

/// Saves what the browser shows, scrolled to `css`, as `test-artifacts/<name>.png`, for people to
/// look at.
async fn screenshot(browser: &Browser, name: &str, css: &str) -> Outcome {
    browser
        .client
        .execute(
            "const element = document.querySelector(arguments[0]); if (element) { element.scrollIntoView(); }",
            vec![serde_json::Value::String(css.to_string())],
        )
        .await?;
    let folder = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
    std::fs::create_dir_all(&folder)?;
    std::fs::write(folder.join(format!("{name}.png")), browser.client.screenshot().await?)?;
    Ok(())
}

/// The elements inside the page's content that reach past the window's right edge, and whether the
/// content scrolls sideways itself.
async fn overflow_in_content(browser: &Browser) -> Result<Vec<String>, fantoccini::error::CmdError> {
    let found = browser
        .client
        .execute(
            "const width = window.innerWidth; const out = [];
             const main = document.getElementById('content');
             if (main.scrollWidth > main.clientWidth + 1) { out.push('#content scrolls: ' + main.scrollWidth + ' > ' + main.clientWidth); }
             for (const element of main.querySelectorAll('*')) {
               const box = element.getBoundingClientRect();
               if (box.width > 0 && box.right > width + 1) {
                 out.push(element.tagName.toLowerCase() + (element.id ? '#' + element.id : '') + ' ends at ' + Math.round(box.right));
               }
             }
             return out;",
            Vec::new(),
        )
        .await?;
    Ok(found
        .as_array()
        .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default())
}

/// Revoking a feed token and a full resync each go through a confirmation page first, in the
/// browser; the copy buttons say "Gekopieerd"; at 375 px nothing on these pages reaches past the
/// screen's edge.
#[tokio::test]
async fn revoking_a_token_and_a_full_resync_confirm_first_and_fit_a_phone() {
    scenario("datasync-confirm", |app, browser| async move {
        let outcome: Outcome = async {
            let fixture = &app.fixture;
            browser.log_in(&app, &fixture.admin, &fixture.admin.password).await?;
            let page = format!("/a/{}/settings/datasync", fixture.main);
            browser.client.set_window_size(1366, 900).await?;
            browser.client.goto(&app.url(&page)).await?;
            screenshot(&browser, "datasync-1366", "h1").await?;

            // A new token is shown once, in a field with a copy button.
            browser.fill("#token-name", "Power BI Desktop").await?;
            browser.click_and_load("#token-create").await?;
            let secret = browser
                .client
                .find(Locator::Css("#new-token-value"))
                .await?
                .prop("value")
                .await?
                .unwrap_or_default();
            check!(secret.starts_with("kpf_"), "the new token: {secret}");
            screenshot(&browser, "datasync-new-token-1366", "#new-token").await?;
            screenshot(&browser, "datasync-power-query-1366", "#m-import-block").await?;
            browser.click("button[data-copy='new-token-value']").await?;
            let mut said = String::new();
            for _ in 0..40 {
                said = browser.text("#copy-status").await?;
                if !said.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            check!(said == "Gekopieerd", "the copy button's confirmation: {said:?}");
            let url = browser
                .client
                .find(Locator::Css("#feed-url"))
                .await?
                .prop("value")
                .await?
                .unwrap_or_default();
            check!(
                url == app.url(&format!("/odata/v4/koppel-{}/", fixture.main)),
                "the feed URL field: {url}"
            );

            // Revoke: the confirmation says what stops; Annuleren goes back, the danger button revokes.
            let token = koppel_datasync::tokens::list(app.database.store(), fixture.main).await?[0]
                .id
                .0;
            browser.click_and_load(&format!("#revoke-{token}")).await?;
            let title = browser.text("h1").await?;
            check!(
                title == "Feedtoken Power BI Desktop intrekken",
                "the confirmation: {title}"
            );
            let warning = browser.text("#confirm-text").await?;
            check!(
                warning.contains("Power BI kan dan niet meer verversen met dit token"),
                "what stops: {warning}"
            );
            browser.client.set_window_size(375, 800).await?;
            let overflow = overflow_in_content(&browser).await?;
            check!(overflow.is_empty(), "the revoke confirmation at 375 px: {overflow:?}");
            screenshot(&browser, "datasync-revoke-confirm-375", "h1").await?;
            browser.click_and_load("#confirm-cancel").await?;
            check!(browser.path().await? == page, "Annuleren returns to Data Sync");
            check!(
                koppel_datasync::tokens::list(app.database.store(), fixture.main).await?[0]
                    .revoked_at
                    .is_none(),
                "Annuleren revoked the token"
            );
            let overflow = overflow_in_content(&browser).await?;
            check!(overflow.is_empty(), "Data Sync at 375 px: {overflow:?}");
            screenshot(&browser, "datasync-375", "h1").await?;
            screenshot(&browser, "datasync-power-bi-375", "#ds-connection").await?;
            browser.click_and_load(&format!("#revoke-{token}")).await?;
            let danger = browser.client.find(Locator::Css("#confirm-submit")).await?;
            check!(
                danger.attr("class").await?.as_deref() == Some("danger"),
                "the confirming button is a danger button"
            );
            browser.click_and_load("#confirm-submit").await?;
            let flash = browser.text("#flash").await?;
            check!(flash.contains("Power BI Desktop is ingetrokken"), "revoked: {flash}");

            // Full resync: the confirmation says what it costs, then it starts.
            browser.click_and_load("#full-resync").await?;
            let title = browser.text("h1").await?;
            check!(title == "Alles opnieuw synchroniseren?", "the confirmation: {title}");
            let warning = browser.text("#confirm-text").await?;
            check!(warning.contains("dat duurt veel langer"), "what it costs: {warning}");
            let overflow = overflow_in_content(&browser).await?;
            check!(overflow.is_empty(), "the resync confirmation at 375 px: {overflow:?}");
            browser.click_and_load("#confirm-submit").await?;
            check!(
                browser.path().await?.contains("/runs/"),
                "the full resync leads to its run"
            );

            // The Licentie Manager on a phone too.
            browser
                .client
                .goto(&app.url(&format!("/a/{}/settings/licences", fixture.main)))
                .await?;
            check!(
                browser.text("h1").await? == "Licentie Manager",
                "the licences page's title"
            );
            let overflow = overflow_in_content(&browser).await?;
            check!(overflow.is_empty(), "Licentie Manager at 375 px: {overflow:?}");
            screenshot(&browser, "licences-375", "h1").await?;
            browser.click_and_load("#deactivate-power_bi").await?;
            let warning = browser.text("#confirm-text").await?;
            check!(
                warning.contains("Power BI kan dan niet meer verversen"),
                "licence: {warning}"
            );
            let overflow = overflow_in_content(&browser).await?;
            check!(overflow.is_empty(), "the licence confirmation at 375 px: {overflow:?}");
            screenshot(&browser, "licence-deactivate-confirm-375", "h1").await?;
            // An unknown address in the browser: a page in Dutch with a way back.
            browser.client.goto(&app.url("/bestaat-niet")).await?;
            check!(browser.text("h1").await? == "Niet gevonden", "the not-found page");
            screenshot(&browser, "not-found-375", "h1").await?;
            Ok(())
        }
        .await;
        (app, browser, outcome)
    })
    .await;
}

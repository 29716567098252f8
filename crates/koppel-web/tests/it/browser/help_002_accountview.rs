//! Help page 002, "AccountView instellen", walked step by step in Dutch and once in English.
//!
//! Instellingen → Algemeen → Software-integraties → AccountView → Inloggen → AccountView's login and
//! consent → back on the settings page → Algemene instellingen: the administratie, with the warning
//! that it is locked on saving → Opslaan starts the first import, which the page follows live and
//! reloads after, so the export mapping is filled → the log panel on the right shows it → disconnect
//! with the on/off button at the top right of the log panel, after a confirmation; data stays.

#[allow(unused_imports)]
use super::*;
use crate::accountview::{DEMO_USER, VDB_2026_ID};
use koppel_web::pages::i18n::{EN, Messages, NL};
use serde_json::json;

/// The words of one walk: the help page's (Dutch) or their English equivalents, with what the
/// sandbox (always Dutch, it plays AccountView) shows in between.
struct Words {
    m: &'static Messages,
    /// For screenshot names.
    m_code: &'static str,
    integrations: &'static str,
    not_connected: &'static str,
    open: &'static str,
    log_in: &'static str,
    general: &'static str,
    administration: &'static str,
    before_saving: &'static str,
    points: [&'static str; 4],
    licence_ok: &'static str,
    save: &'static str,
    importing: &'static str,
    import_kind: &'static str,
    succeeded: &'static str,
    disconnect: &'static str,
    disconnect_title: &'static str,
    sync_stops: &'static str,
    cancel: &'static str,
}

const DUTCH: Words = Words {
    m: &NL,
    m_code: "nl",
    integrations: "Software-integraties",
    not_connected: "Niet verbonden",
    open: "Openen",
    log_in: "Inloggen",
    general: "Algemene instellingen",
    administration: "Administratie",
    before_saving: "Voordat u opslaat",
    points: [
        "de integratie is geactiveerd in de Licentie Manager",
        "de geselecteerde administratie de juiste is",
        "uw AccountView-gebruiker voldoende toegangsrechten heeft",
        "de import- en exportopties komen overeen met uw proces",
    ],
    licence_ok: "De integratie is geactiveerd in de Licentie Manager.",
    save: "Opslaan",
    importing: "Import uit AccountView loopt",
    import_kind: "AccountView-import",
    succeeded: "Geslaagd",
    disconnect: "Ontkoppelen",
    disconnect_title: "AccountView ontkoppelen",
    sync_stops: "De synchronisatie stopt. Bestaande gegevens in Koppel blijven behouden. Er worden geen nieuwe gegevens gesynchroniseerd totdat u opnieuw verbinding maakt.",
    cancel: "Annuleren",
};

const ENGLISH: Words = Words {
    m: &EN,
    m_code: "en",
    integrations: "Software integrations",
    not_connected: "Not connected",
    open: "Open",
    log_in: "Log in",
    general: "General settings",
    administration: "Administration",
    before_saving: "Before you save",
    points: [
        "the integration is activated in the Licence Manager",
        "the selected administration is the right one",
        "your AccountView user has sufficient access rights",
        "the import and export options match your process",
    ],
    licence_ok: "The integration is activated in the Licence Manager.",
    save: "Save",
    importing: "Import from AccountView running",
    import_kind: "AccountView import",
    succeeded: "Succeeded",
    disconnect: "Disconnect",
    disconnect_title: "Disconnect AccountView",
    sync_stops: "Syncing stops. Existing data in Koppel is kept. No new data is synced until you connect again.",
    cancel: "Cancel",
};

async fn js(browser: &Browser, script: &str) -> Result<serde_json::Value, fantoccini::error::CmdError> {
    browser.client.execute(script, Vec::new()).await
}

/// Nothing inside the page's content reaches past the window's right edge, and the document does
/// not scroll sideways because of it.
async fn fits(browser: &Browser, what: &str) -> Outcome {
    let width = js(browser, "return window.innerWidth;").await?;
    check!(
        width.as_i64().is_some_and(|w| w <= 400),
        "{what}: the window is {width} px wide, not a phone's"
    );
    let overflowing = js(
        browser,
        "var width = window.innerWidth; var out = []; \
         document.querySelectorAll('#content, #content *').forEach(function (e) { \
           var r = e.getBoundingClientRect(); \
           if (r.width > 0 && r.right > width + 1) { out.push((e.id || e.tagName) + ':' + Math.round(r.right)); } }); \
         return out.slice(0, 5).join(', ');",
    )
    .await?;
    check!(
        overflowing.as_str() == Some(""),
        "{what} overflows at {} px: {overflowing}",
        js(browser, "return window.innerWidth;").await?
    );
    Ok(())
}

/// Waits (at most 60 s) until the page reloads by itself, watching the progress on the way;
/// returns the bar values and step texts seen.
async fn follow_until_reloaded(
    browser: &Browser,
) -> Result<(Vec<i64>, Vec<String>), Box<dyn std::error::Error + Send + Sync>> {
    js(browser, "document.documentElement.dataset.watched = 'yes';").await?;
    let mut values = Vec::new();
    let mut steps = Vec::new();
    for _ in 0..1200 {
        let state = js(
            browser,
            "var bar = document.getElementById('av-progress-bar'); \
             var steps = document.getElementById('av-progress-steps'); \
             return {watched: document.documentElement.dataset.watched === 'yes', \
                     ready: document.readyState === 'complete', \
                     value: bar ? bar.value : null, steps: steps ? steps.textContent : null};",
        )
        .await;
        let Ok(state) = state else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if state["watched"] != json!(true) {
            if state["ready"] == json!(true) {
                return Ok((values, steps));
            }
        } else {
            if let Some(value) = state["value"].as_f64() {
                values.push(value as i64);
            }
            if let Some(text) = state["steps"].as_str() {
                steps.push(text.to_string());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("the page did not reload after the import".into())
}

/// One walk through the help page in one language.
async fn walk(app: &TestApp, browser: &Browser, words: &Words) -> Outcome {
    let fixture = &app.fixture;
    let m = words.m;
    let page_path = format!("/a/{}/settings/integrations/accountview", fixture.main);

    // "Ga naar Instellingen → Algemeen → Software-integraties."
    browser
        .client
        .goto(&app.url(&format!("/a/{}/settings", fixture.main)))
        .await?;
    browser.click_and_load("#nav-integrations").await?;
    check!(
        browser.path().await? == format!("/a/{}/settings/integrations", fixture.main),
        "on the integrations page"
    );
    check!(
        browser.text("h1").await? == words.integrations,
        "title: {}",
        browser.text("h1").await?
    );
    let intro = browser.text("#content > p").await?;
    check!(!intro.contains("Koppel Koppel"), "intro: {intro}");
    check!(
        browser.text("#integration-accountview-title").await? == "AccountView",
        "the AccountView card"
    );
    let state = browser.text("#integration-accountview-state").await?;
    check!(state == words.not_connected, "card state: {state}");
    fits_at_375(
        browser,
        "the integrations page",
        &format!("{}-integrations", words.m_code),
    )
    .await?;
    // "Open AccountView."
    check!(
        browser.text("#integration-accountview-open").await? == words.open,
        "Open link"
    );
    browser.click_and_load("#integration-accountview-open").await?;
    check!(browser.path().await? == page_path, "on the AccountView page");
    check!(browser.text("h1").await? == "AccountView", "title AccountView");

    // "Als de integratie nog niet verbonden is, verschijnt het inlogscherm. Klik Inloggen."
    check!(
        browser.text("#av-login h2").await? == m.av_login_title,
        "the login screen"
    );
    check!(browser.text("#av-sign-in").await? == words.log_in, "the Log in button");
    browser.click_and_load("#av-sign-in").await?;
    // "Meld u aan met uw AccountView inloggegevens. Geef vervolgens toestemming." (AccountView's own pages.)
    check!(
        browser.text("h1").await? == "Inloggen bij AccountView",
        "AccountView's login page"
    );
    browser.fill("#username", DEMO_USER).await?;
    browser.fill("#password", "sandbox").await?;
    browser.click_and_load("button.primary").await?;
    check!(browser.text("h1").await? == "Toegang verlenen", "the consent page");
    browser.click_and_load("button[value='approve']").await?;

    // "Na een geslaagde aanmelding opent OutSmart opnieuw de AccountView-instellingenpagina."
    check!(browser.path().await? == page_path, "back on the settings page");
    check!(browser.text("#flash").await? == m.av_connected, "connected message");

    // "In Algemene instellingen, selecteer de administratie die u wilt synchroniseren." The choice
    // warns beforehand that it is locked on saving.
    check!(
        browser.text("#av-general h2").await? == words.general,
        "General settings"
    );
    check!(
        browser.text("label[for='av-company']").await? == words.administration,
        "administration label"
    );
    check!(
        browser.text("#av-company-help").await? == m.av_company_help,
        "what the administration is"
    );
    let warning = browser.text("#av-company-warning").await?;
    check!(warning == m.av_company_warning, "lock warning: {warning}");
    browser
        .client
        .find(Locator::Css("#av-company"))
        .await?
        .select_by_value(VDB_2026_ID)
        .await?;
    // "Import- en exportinstellingen configureren."
    check!(
        browser.text("#av-import h2").await? == m.av_import_title,
        "import settings"
    );
    check!(
        browser.text("#av-export h2").await? == m.av_export_title,
        "export settings"
    );
    // "Voordat u opslaat: controleer eerst deze punten."
    check!(
        browser.text("#av-check h2").await? == words.before_saving,
        "Before you save"
    );
    let points = browser.text("#av-check-points").await?;
    let listed: Vec<&str> = points.lines().map(str::trim).collect();
    check!(listed == words.points, "the help page's points: {listed:?}");
    browser.click_and_load("#av-check-button").await?;
    let licence = browser.text("#av-check-result li[data-key='licence']").await?;
    check!(licence == words.licence_ok, "a checked item reads once: {licence}");
    js(browser, "document.getElementById('av-check').scrollIntoView();").await?;
    shot(browser, &format!("{}-check", words.m_code)).await?;
    let result = browser.text("#av-check-result").await?;
    check!(
        !result.contains("In orde:") && !result.contains("Fine:"),
        "no doubled status: {result}"
    );
    check!(
        js(
            browser,
            "return document.querySelectorAll('#av-check-result li.ok svg').length;"
        )
        .await?
            == json!(
                browser
                    .client
                    .find_all(Locator::Css("#av-check-result li.ok"))
                    .await?
                    .len()
            ),
        "every fine item has its check icon"
    );

    // "Klik Opslaan." The first save starts the import at once; the page follows it live.
    // AccountView answers slowly here, as over a real network, so there is something to follow.
    app.sandbox()
        .loopback()
        .put(
            "/_sandbox/faults/latency",
            json!({"route": "GET /api/v3/AccountViewData", "latency_ms": 150}),
        )
        .await?;
    check!(browser.text("#av-save").await? == words.save, "the Save button");
    browser.click_and_load("#av-save").await?;
    check!(
        browser.text("#flash").await? == m.av_saved_importing,
        "saved and importing"
    );
    check!(
        browser.text("#av-progress-title").await? == words.importing,
        "the import is shown running"
    );
    shot(browser, &format!("{}-importing", words.m_code)).await?;
    check!(
        browser.text("#av-progress-refresh").await? == m.av_progress_refresh,
        "the refresh link for browsers without JavaScript"
    );
    check!(
        browser.text("#av-company-locked").await? == m.av_company_locked,
        "locked now"
    );
    let (values, steps) = follow_until_reloaded(browser).await?;
    app.sandbox()
        .loopback()
        .put(
            "/_sandbox/faults/latency",
            json!({"route": "GET /api/v3/AccountViewData", "latency_ms": 0}),
        )
        .await?;
    check!(
        values.iter().any(|value| (1..100).contains(value)),
        "the bar moved while importing: {values:?}"
    );
    let of_eight = if std::ptr::eq(m, &NL) {
        " van 8 onderdelen geïmporteerd"
    } else {
        " of 8 parts imported"
    };
    check!(
        steps
            .iter()
            .any(|text| text.ends_with(of_eight) && !text.starts_with("0 ")),
        "the steps counted up: {steps:?}"
    );
    // Done: the export mapping lists are filled, without coming back later.
    check!(
        browser.client.find_all(Locator::Css("#av-progress")).await?.is_empty(),
        "no import running any more"
    );
    check!(
        browser
            .client
            .find_all(Locator::Css("#av-codes-missing"))
            .await?
            .is_empty(),
        "codes are there"
    );
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
    browser.click("#export-enabled").await?;
    browser.click_and_load("#av-save").await?;
    check!(browser.text("#flash").await? == m.av_saved, "export settings saved");

    // The integrations page tells the state: connected, to which administration.
    browser.click_and_load("#nav-integrations").await?;
    let state = browser.text("#integration-accountview-state").await?;
    let connected = koppel_web::pages::i18n::fill(
        m.integration_connected_to,
        &["VDB26 – Installatiebedrijf Van den Berg B.V. 2026"],
    );
    check!(state == connected, "card state: {state}");
    browser.click_and_load("#integration-accountview-open").await?;

    // "Het logpaneel aan de rechterkant toont recente synchronisatie-activiteit."
    check!(browser.text("#av-log-title").await? == m.av_log_title, "the log panel");
    let log = browser.text("#av-log-runs").await?;
    check!(
        log.contains(words.import_kind) && log.contains(words.succeeded),
        "log: {log}"
    );
    let geometry = js(
        browser,
        "var log = document.getElementById('av-log').getBoundingClientRect(); \
         var form = document.getElementById('av-settings').getBoundingClientRect(); \
         var off = document.getElementById('av-disconnect').getBoundingClientRect(); \
         return {right_of_settings: log.left >= form.right, \
                 top_right: off.top - log.top < 40 && log.right - off.right < 40 && off.left > (log.left + log.right) / 2};",
    )
    .await?;
    check!(
        geometry["right_of_settings"] == json!(true),
        "log panel on the right: {geometry}"
    );
    // "Klik op de verbreekknop met het aan/uit-pictogram. U vindt deze rechtsboven in het logpaneel."
    check!(
        geometry["top_right"] == json!(true),
        "disconnect at the top right of the log panel: {geometry}"
    );
    let off = browser.client.find(Locator::Css(".av-log-head #av-disconnect")).await?;
    check!(
        off.attr("aria-label").await?.as_deref() == Some(words.disconnect),
        "its name"
    );
    check!(
        off.attr("title")
            .await?
            .is_some_and(|t| t.starts_with(words.disconnect)),
        "its tooltip"
    );
    check!(
        browser.client.find_all(Locator::Css("#av-disconnect svg")).await?.len() == 1,
        "an on/off icon, no font glyph"
    );
    fits_at_375(
        browser,
        "the AccountView page",
        &format!("{}-accountview", words.m_code),
    )
    .await?;

    browser.click_and_load("#av-disconnect").await?;
    check!(browser.text("h1").await? == words.disconnect_title, "the confirmation");
    let text = browser.text("#av-disconnect-warning").await?;
    check!(text.contains(words.sync_stops), "what happens: {text}");
    let confirm = browser.client.find(Locator::Css("#av-disconnect-confirm")).await?;
    check!(
        confirm.attr("class").await?.as_deref() == Some("danger"),
        "a danger button"
    );
    check!(
        browser.text("#av-disconnect-cancel").await? == words.cancel,
        "a way back"
    );
    fits_at_375(
        browser,
        "the disconnect confirmation",
        &format!("{}-disconnect", words.m_code),
    )
    .await?;
    browser.click_and_load("#av-disconnect-confirm").await?;
    check!(browser.path().await? == page_path, "back on the page");
    check!(browser.text("#flash").await? == m.av_disconnected, "disconnected");
    check!(browser.text("#av-sign-in").await? == words.log_in, "Log in again");
    // "Bestaande gegevens in OutSmart blijven behouden."
    let token = app.token(&fixture.admin).await;
    let relations = app.records(&token, fixture.main, "relations", &[("limit", "5")]).await;
    check!(
        relations.body["items"].as_array().map(Vec::len) == Some(5),
        "imported relations kept: {}",
        relations.body
    );
    Ok(())
}

/// A screenshot for people to look at, `test-artifacts/help-002-<name>-<width>.png`.
async fn shot(browser: &Browser, name: &str) -> Outcome {
    let width = js(browser, "return window.innerWidth;").await?;
    let folder = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
    std::fs::create_dir_all(&folder)?;
    let png = browser.client.screenshot().await?;
    std::fs::write(folder.join(format!("help-002-{name}-{width}.png")), png)?;
    Ok(())
}

/// The same checks at a phone's width (with a screenshot at both widths), then back to the desktop.
async fn fits_at_375(browser: &Browser, what: &str, name: &str) -> Outcome {
    shot(browser, name).await?;
    browser.client.set_window_size(375, 800).await?;
    let outcome = fits(browser, what).await;
    if outcome.is_ok() {
        js(browser, "document.getElementById('content').scrollIntoView();").await?;
        shot(browser, name).await?;
    }
    browser.client.set_window_size(1366, 900).await?;
    outcome
}

#[tokio::test]
async fn help_page_002_accountview_instellen_step_by_step_in_dutch_then_in_english() {
    let setup = |app: TestAppBuilder| app.with_sandbox().with_worker([JobKind::AccountView]);
    scenario_with("help-002-accountview", setup, |app, browser| async move {
        let outcome: Outcome = async {
            let fixture = &app.fixture;
            browser.client.set_window_size(1366, 900).await?;
            browser.log_in(&app, &fixture.admin, &fixture.admin.password).await?;
            walk(&app, &browser, &DUTCH).await?;
            // Once in English: the user's language.
            app.store().set_user_language(fixture.admin.id, "en").await?;
            walk(&app, &browser, &ENGLISH).await?;
            Ok(())
        }
        .await;
        (app, browser, outcome)
    })
    .await;
}

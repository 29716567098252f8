//! Help page 001, "Instellingen synchroniseren naar subadministraties", walked step by step in Dutch and once in English.
//!
//! The help's steps: Instellingen → Administraties; open the main administration's action menu and
//! choose "Sync naar subadministraties"; select the sub-administrations that receive the update;
//! select the settings to copy; confirm and wait until it has finished. The walk uses the keyboard
//! where the help has the user choose (the menu, the checkboxes, the buttons) and checks the help's
//! words at each step.

use super::*;
use fantoccini::key::Key;
use koppel_domain::AdministrationId;

/// Presses `key` on the element `css` (WebDriver focuses it first).
async fn press(browser: &Browser, css: &str, key: Key) -> Outcome {
    browser
        .client
        .find(Locator::Css(css))
        .await?
        .send_keys(&char::from(key).to_string())
        .await?;
    Ok(())
}

/// Presses `key` on the element that has the focus now.
async fn press_focused(browser: &Browser, key: Key) -> Outcome {
    browser
        .client
        .active_element()
        .await?
        .send_keys(&char::from(key).to_string())
        .await?;
    Ok(())
}

/// [`press`] on something that loads a new page, waiting until it has loaded.
async fn press_and_load(browser: &Browser, css: &str, key: Key) -> Outcome {
    browser
        .client
        .execute("document.documentElement.dataset.leaving = 'yes';", Vec::new())
        .await?;
    press(browser, css, key).await?;
    browser.wait_for_load(&format!("pressing a key on {css}")).await
}

/// Saves a screenshot of the page as it is, at 1366 and at 375 px wide, under `test-artifacts/`
/// for people to look at (the scenario's backend is in the name).
async fn screenshots(browser: &Browser, name: &str) -> Outcome {
    let folder = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
    std::fs::create_dir_all(&folder)?;
    for (width, height) in [(1366, 900), (375, 800)] {
        browser.client.set_window_size(width, height).await?;
        // The page's own content, below the shell's top bar and menu on a phone.
        browser
            .client
            .execute(
                "var h = document.querySelector('h1'); if (h) { h.scrollIntoView(); }",
                Vec::new(),
            )
            .await?;
        let png = browser.client.screenshot().await?;
        std::fs::write(folder.join(format!("{name}-{width}.png")), png)?;
    }
    browser.client.set_window_size(1280, 900).await?;
    Ok(())
}

async fn script_bool(browser: &Browser, script: &str) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    Ok(browser.client.execute(script, Vec::new()).await? == serde_json::Value::Bool(true))
}

/// Whether the main's action menu is open.
async fn menu_open(
    browser: &Browser,
    main: AdministrationId,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    script_bool(browser, &format!("return document.getElementById('menu-{main}').open;")).await
}

/// The words of one language that the walk checks.
struct Words {
    administrations: &'static str,
    menu_item: &'static str,
    targets_step: &'static str,
    targets_help: &'static str,
    what_step: &'static str,
    what_help: &'static str,
    confirm_step: &'static str,
    confirm_help: &'static str,
    succeeded: &'static str,
    run_title: &'static str,
    in_step: &'static str,
    drifted: &'static str,
    forms_item: &'static str,
    workflow_item: &'static str,
}

const DUTCH: Words = Words {
    administrations: "Administraties",
    menu_item: "Sync naar subadministraties",
    targets_step: "1. Kies de doeladministraties",
    targets_help: "Selecteer de subadministraties die de update moeten ontvangen.",
    what_step: "2. Kies wat je wilt synchroniseren",
    what_help: "Selecteer de instellingen die je wilt kopiëren.",
    confirm_step: "3. Start de synchronisatie",
    confirm_help: "Bevestig de actie en wacht tot deze is voltooid.",
    succeeded: "Geslaagd",
    run_title: "Instellingen synchroniseren · handmatig · ",
    in_step: "Gelijk aan de hoofdadministratie",
    drifted: "Wijkt af van de hoofdadministratie",
    forms_item: "Formulieren · CV-ketel inspectie",
    workflow_item: "Workflows · CV-ketel onderhoud",
};

const ENGLISH: Words = Words {
    administrations: "Administrations",
    menu_item: "Sync to sub-administrations",
    targets_step: "1. Choose the target administrations",
    targets_help: "Select the sub-administrations that should receive the update.",
    what_step: "2. Choose what to sync",
    what_help: "Select the settings you want to copy.",
    confirm_step: "3. Start the sync",
    confirm_help: "Confirm the action and wait until it has finished.",
    succeeded: "Succeeded",
    run_title: "Settings sync · manual · ",
    in_step: "Same as the main administration",
    drifted: "Differs from the main administration",
    forms_item: "Forms · CV-ketel inspectie",
    workflow_item: "Workflows · CV-ketel onderhoud",
};

/// Steps 1 and 2 of the help: Instellingen → Administraties, the main's action menu by keyboard,
/// "Sync naar subadministraties".
async fn open_the_wizard(browser: &Browser, words: &Words, main: AdministrationId) -> Outcome {
    let nav = browser.text("#nav-administrations").await?;
    check!(nav == words.administrations, "menu entry: {nav}");
    browser.click_and_load("#nav-administrations").await?;
    check!(
        browser.path().await?.ends_with("/settings/administrations"),
        "Instellingen → Administraties led to {}",
        browser.path().await?
    );
    let summary = format!("#menu-{main} > summary");
    check!(!menu_open(browser, main).await?, "the action menu starts closed");
    press(browser, &summary, Key::Enter).await?;
    check!(menu_open(browser, main).await?, "Enter on the action menu opens it");
    let item = browser.text(&format!("#sync-{main}")).await?;
    check!(item == words.menu_item, "the action menu holds: {item}");
    press_and_load(browser, &format!("#sync-{main}"), Key::Enter).await?;
    check!(
        browser.path().await?.ends_with("/settings/administrations/sync"),
        "the menu item led to {}",
        browser.path().await?
    );
    let targets = browser.text("#sync-targets legend").await?;
    check!(targets == words.targets_step, "step: {targets}");
    let help = browser.text("#sync-targets-help").await?;
    check!(help == words.targets_help, "step help: {help}");
    let what = browser.text("#sync-categories legend").await?;
    check!(what == words.what_step, "step: {what}");
    let help = browser.text("#sync-categories .step-help").await?;
    check!(help == words.what_help, "step help: {help}");
    Ok(())
}

/// The state a sub has on the wizard's first step.
async fn target_state(browser: &Browser, target: AdministrationId) -> Result<String, fantoccini::error::CmdError> {
    browser.text(&format!("#target-state-{target}")).await
}

/// Steps 3 to 5: select `targets` and the forms and workflows by keyboard, look at the preview,
/// confirm and wait until the sync has finished.
async fn sync_by_keyboard(browser: &Browser, words: &Words, targets: &[AdministrationId]) -> Outcome {
    for target in targets {
        press(browser, &format!("#target-{target}"), Key::Space).await?;
    }
    press(browser, "#category-forms", Key::Space).await?;
    press(browser, "#category-workflows", Key::Space).await?;
    for target in targets {
        check!(
            script_bool(
                browser,
                &format!("return document.getElementById('target-{target}').checked;")
            )
            .await?,
            "Space ticks sub-administration {target}"
        );
    }
    press_and_load(browser, "#sync-preview", Key::Enter).await?;
    let step = browser.text("#sync-step-confirm").await?;
    check!(step == words.confirm_step, "step: {step}");
    let help = browser.text("#sync-confirm-help").await?;
    check!(help == words.confirm_help, "step help: {help}");
    press_and_load(browser, "#sync-confirm", Key::Enter).await?;
    let mut status = String::new();
    for _ in 0..150 {
        status = browser.text("#run-status").await.unwrap_or_default();
        if status == words.succeeded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check!(status == words.succeeded, "run status: {status}");
    let title = browser.client.title().await?;
    check!(title.starts_with(words.run_title), "run title: {title}");
    check!(!title.contains("UTC"), "run title: {title}");
    Ok(())
}

#[tokio::test]
async fn help_001_settings_sync_in_dutch_then_in_english() {
    let setup = |app: TestAppBuilder| app.with_worker([JobKind::SettingsSync]);
    scenario_with("help-001-settings-sync", setup, |app, browser| async move {
        let store = app.database.store().clone();
        let outcome: Outcome = async {
            let fixture = &app.fixture;
            crate::settingsync::seed_settings(&store, fixture.main).await;
            // Sub 1 has an older copy of one form, so the preview shows a changed field.
            crate::settingsync::create(
                &store,
                fixture.sub1,
                "forms",
                serde_json::json!({"code": "F-CV", "name": "CV-ketel keuring (oud)",
                    "fields": [{"key": "opmerking", "label": "Opmerking", "type": "text"}]}),
            )
            .await;
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
            let main = fixture.main;

            // In Dutch.
            browser.log_in(&app, &fixture.admin, &fixture.admin.password).await?;
            open_the_wizard(&browser, &DUTCH, main).await?;
            // Each sub-administration on its own line.
            check!(
                script_bool(
                    &browser,
                    "var tops = Array.prototype.map.call(document.querySelectorAll('#sync-targets label.check'), \
                     function (l) { return Math.round(l.getBoundingClientRect().top); }); \
                     return tops.length === 3 && new Set(tops).size === 3;"
                )
                .await?,
                "the three sub-administrations are not on lines of their own"
            );
            for sub in [fixture.sub1, fixture.sub2, third.id] {
                let state = target_state(&browser, sub).await?;
                check!(state.contains(DUTCH.drifted), "before the sync, sub {sub}: {state}");
            }
            let backend = format!("{:?}", store.backend()).to_lowercase();
            screenshots(&browser, &format!("help-001-wizard-{backend}")).await?;
            // Escape closes the action menu, from the menu button and from an item in it.
            browser.click_and_load("#nav-administrations").await?;
            let summary = format!("#menu-{main} > summary");
            press(&browser, &summary, Key::Enter).await?;
            check!(menu_open(&browser, main).await?, "Enter opens the action menu");
            screenshots(&browser, &format!("help-001-menu-{backend}")).await?;
            check!(menu_open(&browser, main).await?, "the menu stays open");
            press_focused(&browser, Key::Escape).await?;
            check!(
                !menu_open(&browser, main).await?,
                "Escape on the menu button closes the menu"
            );
            press(&browser, &summary, Key::Enter).await?;
            press_focused(&browser, Key::Down).await?;
            check!(
                script_bool(
                    &browser,
                    &format!("return document.activeElement.closest('#menu-{main} .menu-items') !== null;")
                )
                .await?,
                "the arrow key moves into the menu"
            );
            press_focused(&browser, Key::Escape).await?;
            check!(
                !menu_open(&browser, main).await?,
                "Escape on a menu item closes the menu"
            );
            check!(
                script_bool(&browser, "return document.activeElement.tagName === 'SUMMARY';").await?,
                "Escape puts the focus back on the menu button"
            );
            // The walk itself: two of the three subs, forms and workflows.
            open_the_wizard(&browser, &DUTCH, main).await?;
            press(&browser, &format!("#target-{}", fixture.sub1), Key::Space).await?;
            press(&browser, &format!("#target-{}", fixture.sub2), Key::Space).await?;
            press(&browser, "#category-forms", Key::Space).await?;
            press(&browser, "#category-workflows", Key::Space).await?;
            press_and_load(&browser, "#sync-preview", Key::Enter).await?;
            let step = browser.text("#sync-step-confirm").await?;
            check!(step == DUTCH.confirm_step, "step: {step}");
            let help = browser.text("#sync-confirm-help").await?;
            check!(help == DUTCH.confirm_help, "step help: {help}");
            // The preview names categories, items and fields as people do.
            let preview = browser.text(&format!("#preview-{}", fixture.sub1)).await?;
            check!(preview.contains(DUTCH.forms_item), "preview of sub 1: {preview}");
            check!(preview.contains(DUTCH.workflow_item), "preview of sub 1: {preview}");
            check!(
                preview.contains("Naam: CV-ketel keuring (oud) → CV-ketel inspectie"),
                "the changed field by its label: {preview}"
            );
            check!(
                preview.contains("Werksoorten · Onderhoud"),
                "the work type is pulled in: {preview}"
            );
            for raw in ["forms/", "workflows/", "name:", "F-CV", "WF-CV", "work-types"] {
                check!(!preview.contains(raw), "raw key {raw} in the preview: {preview}");
            }
            check!(
                browser
                    .client
                    .find_all(Locator::Css(&format!("#preview-{}", third.id)))
                    .await?
                    .is_empty(),
                "the third sub is in the preview"
            );
            screenshots(&browser, &format!("help-001-preview-{backend}")).await?;
            press_and_load(&browser, "#sync-confirm", Key::Enter).await?;
            let mut status = String::new();
            for _ in 0..150 {
                status = browser.text("#run-status").await.unwrap_or_default();
                if status == DUTCH.succeeded {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            check!(status == DUTCH.succeeded, "run status: {status}");
            let title = browser.client.title().await?;
            check!(title.starts_with(DUTCH.run_title), "run title: {title}");
            screenshots(&browser, &format!("help-001-run-{backend}")).await?;
            let items = browser.text("#run-items").await?;
            check!(
                items.contains("Vestiging Utrecht · Formulieren · F-CV"),
                "results per item: {items}"
            );
            check!(!items.contains("forms/F-CV"), "raw item key: {items}");
            // Done: the two subs are now the same as the main; the third still differs.
            open_the_wizard(&browser, &DUTCH, main).await?;
            for sub in [fixture.sub1, fixture.sub2] {
                let state = target_state(&browser, sub).await?;
                check!(state.contains(DUTCH.in_step), "after the sync, sub {sub}: {state}");
            }
            let state = target_state(&browser, third.id).await?;
            check!(state.contains(DUTCH.drifted), "the third sub: {state}");

            // Once in English: the third sub and sub 1.
            store.set_user_language(fixture.admin.id, "en").await?;
            browser.client.goto(&app.url(&format!("/a/{main}/settings"))).await?;
            open_the_wizard(&browser, &ENGLISH, main).await?;
            let state = target_state(&browser, third.id).await?;
            check!(state.contains(ENGLISH.drifted), "the third sub: {state}");
            sync_by_keyboard(&browser, &ENGLISH, &[third.id]).await?;
            open_the_wizard(&browser, &ENGLISH, main).await?;
            for sub in [fixture.sub1, fixture.sub2, third.id] {
                let state = target_state(&browser, sub).await?;
                check!(state.contains(ENGLISH.in_step), "after the sync, sub {sub}: {state}");
            }
            Ok(())
        }
        .await;
        (app, browser, outcome)
    })
    .await;
}

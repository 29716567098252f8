//! Every page at 1366 and 375 px: no horizontal overflow, no console errors, axe-core clean, a screenshot in test-artifacts/.
//!
//! The app is set up with something on every page (AccountView connected and imported, a Data Sync
//! run, a feed token, subs to sync to), then each page is opened at a desktop width and at a phone
//! width. axe-core comes from npm (`tools/axe`, installed by `.ci/run`); without it the audit says
//! loudly that it skipped axe, unless `KOPPEL_REQUIRE_TOOLS=1`, where that is a failure.

use super::*;
use crate::accountview::{DEMO_USER, VDB_2026_ID};
use serde_json::json;

/// The widths every page is checked at: a common laptop and a small phone.
const WIDTHS: [(u32, &str); 2] = [(1366, "desktop"), (375, "phone")];

/// axe-core's browser bundle.
fn axe_source() -> Option<String> {
    let path = std::env::var_os("KOPPEL_AXE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/axe/node_modules/axe-core/axe.min.js")
    });
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(error) => {
            let message = format!(
                "axe-core not found at {} ({error}): run `npm ci --prefix tools/axe`",
                path.display()
            );
            if std::env::var("KOPPEL_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
                panic!("{message}");
            }
            eprintln!("\n*** AXE-CORE CHECK SKIPPED: {message} ***\n");
            None
        }
    }
}

/// chromedriver's log of the browser console (`goog:loggingPrefs`); reading it empties it.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// The console errors logged since the last call.
async fn console_errors(browser: &Browser) -> Result<Vec<String>, fantoccini::error::CmdError> {
    let entries = browser.client.issue_cmd(BrowserLog).await?;
    Ok(entries
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["level"] == "SEVERE")
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_string())
        // The favicon request of a page is the browser's own; a missing one is still an error
        // worth reporting, so nothing else is filtered.
        .collect())
}

/// Sets the viewport (not the window) to `width` × `height`.
async fn set_viewport(browser: &Browser, width: u32, height: u32) -> Outcome {
    browser.client.set_window_size(width, height).await?;
    // Window and viewport differ by the browser's frame, if any: correct once by the difference.
    let inner = browser
        .client
        .execute("return [window.innerWidth, window.innerHeight];", Vec::new())
        .await?;
    let inner_width = inner[0].as_u64().unwrap_or(u64::from(width)) as u32;
    let inner_height = inner[1].as_u64().unwrap_or(u64::from(height)) as u32;
    if inner_width != width || inner_height != height {
        let window_width = width + width.saturating_sub(inner_width).max(inner_width.saturating_sub(width));
        let window_height = height + height.saturating_sub(inner_height);
        browser.client.set_window_size(window_width, window_height).await?;
    }
    Ok(())
}

/// What the audit found wrong on one page at one width.
async fn audit_page(browser: &Browser, axe: Option<&str>, name: &str, width: u32, label: &str) -> Vec<String> {
    // An error page (403, 404) is logged by the browser as its own failed load; that one is meant.
    let own_status = browser
        .client
        .current_url()
        .await
        .map(|url| url.to_string())
        .unwrap_or_default();
    let error_page = matches!(name, "gate" | "not-found");
    let expected_error = |message: &str| {
        error_page
            && message.starts_with(&format!("{own_status} - Failed to load resource"))
            && (message.contains("status of 403") || message.contains("status of 404"))
    };
    let mut problems = Vec::new();
    let overflow = browser
        .client
        .execute(
            r#"const w = window.innerWidth;
               const wide = [];
               for (const el of document.querySelectorAll('body *')) {
                 const r = el.getBoundingClientRect();
                 if (r.width > 0 && r.right > w + 1 && getComputedStyle(el).position !== 'fixed') {
                   wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '') + ' right=' + Math.round(r.right));
                 }
               }
               return {scroll: document.documentElement.scrollWidth, inner: w, wide: wide.slice(0, 8)};"#,
            Vec::new(),
        )
        .await;
    match overflow {
        Ok(value) => {
            let scroll = value["scroll"].as_u64().unwrap_or(0);
            let inner = value["inner"].as_u64().unwrap_or(0);
            if inner != u64::from(width) {
                problems.push(format!("viewport is {inner} px, not {width} px"));
            }
            if scroll > inner {
                problems.push(format!(
                    "scrolls sideways: {scroll} px wide in a {inner} px viewport; too wide: {}",
                    value["wide"]
                ));
            }
        }
        Err(error) => problems.push(format!("overflow check failed: {error}")),
    }
    match console_errors(browser).await {
        Ok(errors) => {
            let errors: Vec<String> = errors.into_iter().filter(|e| !expected_error(e)).collect();
            if !errors.is_empty() {
                problems.push(format!("console errors: {errors:?}"));
            }
        }
        Err(error) => problems.push(format!("console log unreadable: {error}")),
    }
    if let Some(axe) = axe {
        let loaded = browser.client.execute(axe, Vec::new()).await;
        let result = match loaded {
            Ok(_) => {
                browser
                    .client
                    .execute_async(
                        "const done = arguments[arguments.length - 1];
                         axe.run(document, {resultTypes: ['violations']})
                           .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                             nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))
                           .catch(e => done([{id: 'axe-error', help: String(e)}]));",
                        Vec::new(),
                    )
                    .await
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(violations) if violations.as_array().is_some_and(|v| !v.is_empty()) => {
                problems.push(format!("axe-core violations: {violations}"));
            }
            Ok(_) => {}
            Err(error) => problems.push(format!("axe-core did not run: {error}")),
        }
    }
    // A screenshot of the whole page for people to look at.
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts/pages");
    let _ = std::fs::create_dir_all(&folder);
    let height = browser
        .client
        .execute("return document.documentElement.scrollHeight;", Vec::new())
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(900)
        .clamp(600, 4000) as u32;
    if set_viewport(browser, width, height).await.is_ok()
        && let Ok(png) = browser.client.screenshot().await
    {
        let _ = std::fs::write(folder.join(format!("{name}-{label}.png")), png);
    }
    problems
}

/// Connects AccountView for the main administration, saves its settings and imports, so its page
/// shows the connected state, the code lists and the log.
async fn connect_accountview(app: &TestApp) {
    let fixture = &app.fixture;
    let main = fixture.main;
    koppel_test_support::accountview::connect(app.accountview(), main, fixture.admin.id, |url| async move {
        app.sandbox().consent(&url, DEMO_USER, "approve").await
    })
    .await;
    let token = app.token(&fixture.admin).await;
    let saved = app
        .accountview_save_settings(&token, main, &json!({"company_id": VDB_2026_ID, "settings": {}}))
        .await;
    assert!(saved.status.is_success(), "{}", saved.body);
    let import = app.accountview_import(&token, main, &json!({})).await;
    assert!(import.status.is_success(), "{}", import.body);
    app.run_jobs([JobKind::AccountView]).await;
}

#[tokio::test]
async fn every_page_fits_a_phone_and_a_laptop_without_overflow_console_errors_or_axe_violations() {
    let setup = |app: TestAppBuilder| app.with_sandbox();
    scenario_with("ui-audit", setup, |app, browser| async move {
        let outcome: Outcome = async {
            let axe = axe_source();
            let fixture = &app.fixture;
            let main = fixture.main;
            connect_accountview(&app).await;
            let token = app.token(&fixture.admin).await;
            let sync = app.sync_now(&token, main, false).await;
            check!(sync.status.is_success(), "sync now: {}", sync.body);
            app.run_jobs([JobKind::DataSync]).await;
            let created = app.create_feed_token(&token, main, "Power BI Desktop").await;
            check!(created.status.is_success(), "feed token: {}", created.body);
            let runs = app.runs(&token, main, &[]).await;
            let run = runs.body["items"][0]["id"].as_i64().unwrap_or_default();

            let base = format!("/a/{main}");
            let pages: Vec<(&str, String)> = vec![
                ("settings", format!("{base}/settings")),
                ("integrations", format!("{base}/settings/integrations")),
                ("accountview", format!("{base}/settings/integrations/accountview")),
                (
                    "accountview-disconnect",
                    format!("{base}/settings/integrations/accountview/disconnect"),
                ),
                ("datasync", format!("{base}/settings/datasync")),
                ("administrations", format!("{base}/settings/administrations")),
                ("sync-select", format!("{base}/settings/administrations/sync")),
                (
                    "administration-delete",
                    format!("{base}/settings/administrations/{}/delete", fixture.sub2),
                ),
                ("users", format!("{base}/settings/users")),
                ("user-rights", format!("{base}/settings/users/{}", fixture.user.id)),
                ("licences", format!("{base}/settings/licences")),
                ("runs", format!("{base}/runs")),
                ("run", format!("{base}/runs/{run}")),
                ("gate", format!("/a/{}/settings/administrations/sync", fixture.sub1)),
                ("not-found", format!("{base}/settings/nothing-here")),
            ];

            let mut problems = Vec::new();
            // The login page, before logging in.
            for (width, label) in WIDTHS {
                set_viewport(&browser, width, 900).await?;
                browser.client.goto(&app.url("/login")).await?;
                for problem in audit_page(&browser, axe.as_deref(), "login", width, label).await {
                    problems.push(format!("login @{width}: {problem}"));
                }
            }
            browser.log_in(&app, &fixture.admin, &fixture.admin.password).await?;
            // Dutch (the default), then English: words differ in length, so both are measured.
            for language in ["nl", "en"] {
                if language == "en" {
                    browser.open_user_menu().await?;
                    browser.click_and_load("#language-en").await?;
                }
                for (width, label) in WIDTHS {
                    let label = format!("{label}-{language}");
                    for (name, path) in &pages {
                        set_viewport(&browser, width, 900).await?;
                        browser.client.goto(&app.url(path)).await?;
                        for problem in audit_page(&browser, axe.as_deref(), name, width, &label).await {
                            problems.push(format!("{name} ({path}) @{width} {language}: {problem}"));
                        }
                    }
                    // The preview of the sync wizard: every sub and every category chosen.
                    set_viewport(&browser, width, 900).await?;
                    browser
                        .client
                        .goto(&app.url(&format!("{base}/settings/administrations/sync")))
                        .await?;
                    browser
                        .client
                        .execute(
                            "document.querySelectorAll('input[name=target], input[name=category]').forEach(b => b.checked = true);
                             document.documentElement.dataset.leaving = 'yes';
                             document.getElementById('sync-form').submit();",
                            Vec::new(),
                        )
                        .await?;
                    browser.wait_for_load("the sync preview").await?;
                    for problem in audit_page(&browser, axe.as_deref(), "sync-preview", width, &label).await {
                        problems.push(format!("sync-preview @{width} {language}: {problem}"));
                    }
                }
            }
            check!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
            Ok(())
        }
        .await;
        (app, browser, outcome)
    })
    .await;
}

/// Whether a `<details>` menu is open.
async fn menu_open(browser: &Browser, id: &str) -> Result<bool, fantoccini::error::CmdError> {
    let open = browser
        .client
        .execute(&format!("return document.getElementById('{id}').open;"), Vec::new())
        .await?;
    Ok(open == serde_json::Value::Bool(true))
}

/// The id of the focused element.
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

#[tokio::test]
async fn the_top_bar_menus_work_by_keyboard_and_escape_closes_them() {
    use fantoccini::key::Key;
    scenario("keyboard-menus", |app, browser| async move {
        let outcome: Outcome = async {
            let fixture = &app.fixture;
            browser.log_in(&app, &fixture.admin, &fixture.admin.password).await?;
            // The administration dropdown: Enter opens it, Escape closes it and gives focus back.
            let summary = browser.client.find(Locator::Css("#admin-menu-button")).await?;
            browser
                .client
                .execute("document.getElementById('admin-menu-button').focus();", Vec::new())
                .await?;
            summary.send_keys(&Key::Enter.to_string()).await?;
            check!(
                menu_open(&browser, "admin-menu").await?,
                "Enter opens the administration menu"
            );
            // Tab reaches the administrations in it; Escape from there closes the menu.
            browser
                .client
                .active_element()
                .await?
                .send_keys(&Key::Tab.to_string())
                .await?;
            let on = focused(&browser).await?;
            check!(on.starts_with("switch-to-"), "Tab moves into the menu, focus on {on:?}");
            browser
                .client
                .active_element()
                .await?
                .send_keys(&Key::Escape.to_string())
                .await?;
            check!(
                !menu_open(&browser, "admin-menu").await?,
                "Escape closes the administration menu"
            );
            check!(
                focused(&browser).await? == "admin-menu-button",
                "focus returns to the menu's button"
            );
            // Opening the user menu closes any other; Escape closes it too.
            summary.send_keys(&Key::Enter.to_string()).await?;
            let user = browser.client.find(Locator::Css("#user-menu-button")).await?;
            user.click().await?;
            check!(menu_open(&browser, "user-menu").await?, "the user menu opens");
            check!(!menu_open(&browser, "admin-menu").await?, "one menu open at a time");
            browser
                .client
                .active_element()
                .await?
                .send_keys(&Key::Escape.to_string())
                .await?;
            check!(!menu_open(&browser, "user-menu").await?, "Escape closes the user menu");
            // From the administration menu, Enter on an administration switches to it.
            summary.send_keys(&Key::Enter.to_string()).await?;
            browser
                .client
                .execute("document.documentElement.dataset.leaving = 'yes';", Vec::new())
                .await?;
            let sub = browser
                .client
                .find(Locator::Css(&format!("#switch-to-{}", fixture.sub1)))
                .await?;
            sub.send_keys(&Key::Enter.to_string()).await?;
            browser.wait_for_load("switching by keyboard").await?;
            check!(
                browser.text("#current-administration").await? == "Vestiging Utrecht",
                "switched by keyboard"
            );
            Ok(())
        }
        .await;
        (app, browser, outcome)
    })
    .await;
}

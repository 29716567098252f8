//! The contract test of issue 18: schemathesis (from PyPI, pinned in `.ci/run`) fuzzes every
//! operation of the served OpenAPI document against a running Koppel, on every backend, and must
//! find nothing: no 5xx, no answer that disagrees with the document, no invalid input accepted.
//!
//! The example count per operation is bounded (`KOPPEL_CONTRACT_EXAMPLES`, default 10) so a run
//! takes a few minutes at most per backend. Without schemathesis the test is skipped loudly, unless
//! `KOPPEL_REQUIRE_TOOLS=1` makes that a failure.

use koppel_test_support::TestApp;
use koppel_test_support::app::TestAppBuilder;
use serde_json::json;
use std::process::Command;

/// The schemathesis version `.ci/run` installs.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// Operations left out, and why: revoking API tokens would revoke the very token the fuzzer uses
/// (its ids are small integers, easily guessed), after which every other operation answers 401.
const EXCLUDED_OPERATIONS: &[&str] = &["revokeApiToken"];

fn schemathesis_available() -> bool {
    let available = Command::new("python3")
        .args(["-m", "schemathesis.cli", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        assert!(
            std::env::var_os("KOPPEL_REQUIRE_TOOLS").is_none(),
            "schemathesis is required (pip install '{SCHEMATHESIS}')"
        );
        eprintln!("\n*** SKIPPED: the schemathesis contract test (pip install '{SCHEMATHESIS}') ***\n");
    }
    available
}

#[tokio::test]
async fn schemathesis_finds_no_disagreement_between_the_document_and_the_server() {
    if !schemathesis_available() {
        return;
    }
    let examples = std::env::var("KOPPEL_CONTRACT_EXAMPLES").unwrap_or_else(|_| "10".to_string());
    // With the AccountView integration configured (against its sandbox), so its endpoints answer
    // as in production rather than "not configured".
    TestApp::on_every_backend_with(TestAppBuilder::with_sandbox, |app| {
        let examples = examples.clone();
        async move {
            let token = app.token(&app.fixture.admin).await;
            // Something to find: a few records, so reads of existing ids succeed too.
            for code in ["R1", "R2"] {
                let body = json!({"code": code, "name": format!("Relatie {code}"), "kind": "company"});
                let created = app.create_record(&token, app.fixture.main, "relations", &body).await;
                assert!(created.status.is_success(), "{}", created.body);
            }
            let backend = format!("{:?}", app.database.store().backend());
            // `KOPPEL_CONTRACT_BACKEND=sqlite|postgres` fuzzes one backend only (to look into one).
            if std::env::var("KOPPEL_CONTRACT_BACKEND").is_ok_and(|only| !only.eq_ignore_ascii_case(&backend)) {
                return app;
            }
            let report = std::env::temp_dir().join(format!("koppel-schemathesis-{}-{backend}", std::process::id()));
            let mut arguments = vec![
                "-m".to_string(),
                "schemathesis.cli".into(),
                "run".into(),
                app.url("/api/v1/openapi.json"),
                "--url".into(),
                app.url(""),
                "--header".into(),
                format!("Authorization: Bearer {token}"),
                "--checks".into(),
                "all".into(),
                "--exclude-checks".into(),
                "positive_data_acceptance".into(),
                "--max-examples".into(),
                examples,
                "--request-timeout".into(),
                "20".into(),
                // Generating 100,000-character template bodies that match the text pattern is slow
                // on a busy machine; that is the generator's cost, not the API's.
                "--suppress-health-check".into(),
                "too_slow".into(),
                "--seed".into(),
                "18".into(),
                // One worker: hypothesis on Python 3.11 can fail internally when several threads
                // describe strategies at once ("AST constructor recursion depth mismatch").
                "--workers".into(),
                "1".into(),
                "--generation-allow-x00".into(),
                "true".into(),
                "--report".into(),
                "junit".into(),
                "--report-dir".into(),
                report.display().to_string(),
                "--no-color".into(),
                // Nothing is kept between runs: each run is the same bounded, seeded set of cases.
                "--generation-database".into(),
                "none".into(),
            ];
            for operation in EXCLUDED_OPERATIONS {
                arguments.push("--exclude-operation-id".into());
                arguments.push((*operation).to_string());
            }
            // A blocking child process, off the runtime's threads: the server must keep answering it.
            // Run inside the report directory, so nothing schemathesis writes lands in the source tree.
            std::fs::create_dir_all(&report).expect("report directory");
            let directory = report.clone();
            let output = tokio::task::spawn_blocking(move || {
                Command::new("python3").args(arguments).current_dir(directory).output()
            })
            .await
            .unwrap()
            .expect("schemathesis runs");
            let stdout = String::from_utf8_lossy(&output.stdout);
            // The summary (requests, failures per check) is part of the test's proof: print it.
            let summary_start = stdout.find("SUMMARY").unwrap_or(0);
            println!("schemathesis on {backend}:\n{}", &stdout[summary_start..]);
            let _ = std::fs::remove_dir_all(&report);
            assert!(
                output.status.success(),
                "schemathesis found problems on {backend}:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            app
        }
    })
    .await;
}

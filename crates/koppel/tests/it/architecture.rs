//! The dependency rules of ARCHITECTURE.md, checked against `cargo metadata`.

use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

/// Each crate's normal (non-dev) dependencies, by name.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: Json = serde_json::from_slice(&output.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            let names = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (package["name"].as_str().unwrap().to_string(), names)
        })
        .collect()
}

#[test]
fn crates_depend_only_on_what_the_architecture_allows() {
    let all = dependencies();
    let koppel_crates = |deps: &BTreeSet<String>| -> BTreeSet<String> {
        deps.iter().filter(|d| d.starts_with("koppel")).cloned().collect()
    };
    let forbidden = |name: &str, banned: &[&str]| {
        let deps = &all[name];
        for ban in banned {
            assert!(!deps.contains(*ban), "{name} must not depend on {ban}");
        }
    };
    // The domain knows no IO: no SQL, no HTTP, no async runtime, no other Koppel crate.
    assert!(koppel_crates(&all["koppel-domain"]).is_empty());
    forbidden("koppel-domain", &["sqlx", "axum", "tokio", "reqwest"]);
    // The store knows SQL but not HTTP.
    forbidden("koppel-store", &["axum", "reqwest", "koppel-web"]);
    // Background work knows the store, not HTTP, and the web layer does not run jobs itself: it
    // reads runs and asks for cancellation through the store.
    forbidden("koppel-jobs", &["axum", "reqwest", "koppel-web", "koppel-demo"]);
    // Settings sync's logic knows the store and jobs, not HTTP.
    forbidden("koppel-settingsync", &["axum", "reqwest", "koppel-web", "askama"]);
    // Data Sync's logic knows the store, jobs and OData, not HTTP.
    forbidden("koppel-datasync", &["axum", "reqwest", "koppel-web", "askama"]);
    // The AccountView integration knows AccountView's wire format and the store, not Koppel's HTTP
    // server; the sandbox is only a test double for it (a dev-dependency).
    forbidden(
        "koppel-accountview",
        &["axum", "koppel-web", "askama", "accountview-sandbox"],
    );
    // Only the web crate (and the sandbox, the other side of the wire) knows axum.
    for (name, deps) in &all {
        if deps.contains("axum") {
            assert!(
                matches!(name.as_str(), "koppel-web" | "accountview-sandbox"),
                "{name} must not depend on axum"
            );
        }
        // The sandbox is a test double: besides tests, only the binary uses it (`serve --demo` runs
        // it in-process as the demo's AccountView). The test harness starts it for the tests (its
        // `sandbox` feature); nothing ships with the harness (below).
        if deps.contains("accountview-sandbox") {
            assert!(
                matches!(name.as_str(), "koppel" | "koppel-test-support"),
                "{name} must not depend on accountview-sandbox"
            );
        }
        // Nothing depends on the binary, and nothing ships with the test support.
        assert!(!deps.contains("koppel"), "{name} depends on the binary");
        assert!(
            !deps.contains("koppel-test-support"),
            "{name} uses koppel-test-support outside tests"
        );
    }
    // The sandbox is the other side of the wire: sharing types would hide contract mistakes.
    if let Some(sandbox) = all.get("accountview-sandbox") {
        assert!(
            koppel_crates(sandbox).is_empty(),
            "accountview-sandbox must not use Koppel's crates"
        );
    }
}

/// The three features: each owns its logic and its SQL, and none reaches into another.
const FEATURES: [&str; 3] = ["koppel-datasync", "koppel-settingsync", "koppel-accountview"];

/// Words that name a feature or the background-work machinery: the store is storage, so none of
/// its files or public functions may carry them.
const FEATURE_WORDS: [&str; 11] = [
    "reporting",
    "datasync",
    "data_sync",
    "autosync",
    "feed",
    "accountview",
    "settings_sync",
    "settingsync",
    "queue",
    "schedule",
    "run_item",
];

/// The Rust files below a crate's `src`, with their text.
fn sources(krate: &str) -> Vec<(std::path::PathBuf, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(krate)
        .join("src");
    let mut pending = vec![root];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path, text));
            }
        }
    }
    files
}

#[test]
fn no_feature_crate_depends_on_another() {
    let all = dependencies();
    for feature in FEATURES {
        for other in FEATURES.iter().filter(|other| **other != feature) {
            assert!(!all[feature].contains(*other), "{feature} must not depend on {other}");
        }
    }
}

#[test]
fn the_store_is_storage_and_names_no_feature() {
    for (path, text) in sources("koppel-store") {
        let file = path.file_stem().unwrap().to_string_lossy().to_lowercase();
        for word in FEATURE_WORDS {
            assert!(
                !file.contains(word),
                "{} is named after a feature; it belongs in that feature's crate",
                path.display()
            );
        }
        for line in text.lines() {
            let line = line.trim_start();
            let Some(rest) = line
                .strip_prefix("pub fn ")
                .or_else(|| line.strip_prefix("pub async fn "))
            else {
                continue;
            };
            let name = rest.split(['(', '<']).next().unwrap_or_default().to_lowercase();
            for word in FEATURE_WORDS {
                assert!(
                    !name.contains(word),
                    "{}: the public function `{name}` is named after a feature; it belongs in that feature's crate",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_web_reaches_features_through_their_crates_and_writes_no_sql() {
    let all = dependencies();
    assert!(!all["koppel-web"].contains("sqlx"), "koppel-web must not write SQL");
    // The feed's SQL pieces and the store's SQL toolkit stay below the web crate: it gets rows and
    // typed results from the feature crates.
    for (path, text) in sources("koppel-web") {
        for internal in ["SqlPiece", "ReportingRead", "koppel_store::sql", "on_tx!", "on_pool!"] {
            assert!(
                !text.contains(internal),
                "{} uses `{internal}`, an internal of the store or a feature",
                path.display()
            );
        }
    }
}

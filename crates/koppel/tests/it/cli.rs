//! The binary: configuration, migrations, and a server that starts with no configuration at all
//! and stops cleanly on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn koppel() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_koppel"));
    // The machine's own KOPPEL_ settings must not leak into these tests.
    for (name, _) in std::env::vars() {
        if name.starts_with("KOPPEL_") {
            command.env_remove(name);
        }
    }
    command
}

#[test]
fn check_config_prints_the_defaults_and_hides_secrets() {
    let output = koppel()
        .args([
            "check-config",
            "--database-url",
            "postgres://koppel:hunter2@db.internal/koppel",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("port = 8080"), "{text}");
    assert!(text.contains("bind = \"127.0.0.1\""), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("koppel:***@db.internal"), "{text}");
}

#[test]
fn configuration_mistakes_stop_the_program_with_a_clear_message() {
    let output = koppel()
        .args(["check-config"])
        .env("KOPPEL_HTTP_PORT", "eighty")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("http.port must be a whole number"), "{message}");

    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("koppel.toml");
    std::fs::write(&file, "[databse]\nurl = \"\"\n").unwrap();
    let output = koppel().args(["check-config", "--config"]).arg(&file).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown setting databse"));
}

#[test]
fn a_password_in_the_query_is_hidden_by_check_config() {
    let output = koppel()
        .args([
            "check-config",
            "--database-url",
            "postgres://koppel@db.internal/koppel?sslmode=require&password=hunter2",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("sslmode=require&password=***"), "{text}");
}

#[test]
fn an_unreachable_database_is_named_with_its_address_and_no_password() {
    // A port nobody listens on: the connection is refused at once.
    let port = free_port();
    let url = format!("postgres://koppel@127.0.0.1:{port}/koppel?password=hunter2");
    let output = koppel().args(["migrate", "--database-url", &url]).output().unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains(&format!("cannot reach the database at 127.0.0.1:{port}")),
        "{message}"
    );
    assert!(!message.contains("pool timed out"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.contains("password=***"), "{message}");
}

#[test]
fn a_misspelt_environment_variable_stops_the_program() {
    let output = koppel()
        .args(["check-config"])
        .env("KOPPEL_HTTP_PROT", "9000")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("KOPPEL_HTTP_PROT"), "{message}");
    assert!(message.contains("did you mean KOPPEL_HTTP_PORT?"), "{message}");
}

#[test]
fn migrate_creates_the_sqlite_database_in_the_data_directory() {
    let directory = tempfile::tempdir().unwrap();
    let output = koppel().arg("migrate").current_dir(directory.path()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(directory.path().join("data/koppel.db").exists());
    #[cfg(unix)]
    {
        // Only Koppel's user may read the database (hashes, encrypted tokens) or list its directory.
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&directory.path().join("data")), 0o700);
        for file in ["koppel.db", "koppel.db-wal", "koppel.db-shm"] {
            let path = directory.path().join("data").join(file);
            if path.exists() {
                assert_eq!(mode(&path), 0o600, "{file}");
            }
        }
    }
    // Running it again changes nothing and still succeeds.
    let again = koppel().arg("migrate").current_dir(directory.path()).output().unwrap();
    assert!(again.status.success());
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn serve_starts_without_configuration_and_stops_on_sigterm() {
    let directory = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = koppel()
        .args(["serve", "--port", &port.to_string(), "--log-format", "json"])
        .current_dir(directory.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}");
    // Wait for readiness: bounded, polling the real endpoint.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client.get(format!("{url}/readyz")).send().await
            && response.status().is_success()
        {
            break;
        }
        assert!(Instant::now() < deadline, "koppel serve did not become ready");
        assert!(server.try_wait().unwrap().is_none(), "koppel serve exited early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        client
            .get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    let metrics = client
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("http_requests_total"));
    assert!(
        directory.path().join("data/koppel.db").exists(),
        "SQLite in the local data directory by default"
    );

    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = server.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "koppel serve did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    let mut logs = String::new();
    std::io::Read::read_to_string(server.stderr.as_mut().unwrap(), &mut logs).unwrap();
    let first = logs
        .lines()
        .find(|l| l.contains("listening"))
        .expect("a listening line");
    let parsed: serde_json::Value = serde_json::from_str(first).expect("JSON logs with --log-format json");
    assert_eq!(parsed["level"], "INFO");
    // `serve` runs the background jobs too, and stops them with the server.
    for line in [
        "job worker started",
        "scheduler started",
        "job worker stopped",
        "scheduler stopped",
    ] {
        assert!(logs.contains(line), "no '{line}' in the logs:\n{logs}");
    }
}

#[test]
fn generate_key_prints_a_fresh_encryption_key() {
    let run = || {
        let output = koppel().arg("generate-key").output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let (first, second) = (run(), run());
    let key = first.trim_end();
    assert_eq!(key.len(), 64, "{first:?}");
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()), "{first:?}");
    assert_ne!(first, second, "a new key every time");
    // The key it prints is one the configuration accepts.
    let output = koppel()
        .arg("check-config")
        .env("KOPPEL_ACCOUNTVIEW_CLIENT_ID", "koppel")
        .env("KOPPEL_ACCOUNTVIEW_ENCRYPTION_KEY", key)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!String::from_utf8_lossy(&output.stdout).contains(key));
}

/// The example for a real AccountView only needs its placeholders filled in (here, as the
/// environment variables it suggests for the secrets): every key it sets is a real setting.
#[test]
fn the_example_accountview_configuration_works_once_its_placeholders_are_filled_in() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/accountview.example.toml");
    let key = "0123456789abcdef".repeat(4);
    let output = koppel()
        .args(["check-config", "--config", example])
        .env("KOPPEL_ACCOUNTVIEW_CLIENT_SECRET", "secret-from-visma")
        .env("KOPPEL_ACCOUNTVIEW_ENCRYPTION_KEY", &key)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains(r#"redirect_url = "https://koppel.example.nl/accountview/callback""#),
        "{text}"
    );
    assert!(!text.contains(&key) && !text.contains("secret-from-visma"), "{text}");
    // With the placeholder left in, the key is refused by name.
    let output = koppel().args(["check-config", "--config", example]).output().unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("accountview.encryption_key"), "{message}");
}

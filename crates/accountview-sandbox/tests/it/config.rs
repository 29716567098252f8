//! Loading and checking the sandbox's configuration file.

use accountview_sandbox::{ConfigError, Sandbox, SandboxConfig};

fn write_config(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("accountview-sandbox-it-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn a_config_file_registers_clients_and_settings() {
    let path = write_config(
        "valid",
        r#"
debtors = 1234
rate_limit_per_minute = 60

[[clients]]
client_id = "koppel-prod-like"
client_secret = "s3cret"
name = "Koppel"
redirect_uris = ["https://koppel.example/connections/accountview/callback"]

[tokens]
access_token_seconds = 900
rotate_refresh_tokens = false
"#,
    );
    let config = SandboxConfig::from_file(&path).expect("valid config");
    let _ = std::fs::remove_file(&path);
    config.validate().expect("passes validation");
    assert_eq!(config.debtors, 1234);
    assert_eq!(config.rate_limit_per_minute, 60);
    assert_eq!(config.tokens.access_token_seconds, 900);
    assert_eq!(
        config.tokens.refresh_token_seconds,
        30 * 24 * 3600,
        "unset keys take their defaults"
    );
    assert!(!config.tokens.rotate_refresh_tokens);
    assert_eq!(config.clients.len(), 1);
    assert!(
        !format!("{config:?}").contains("s3cret"),
        "secrets are redacted in Debug"
    );
}

#[test]
fn unknown_keys_and_bad_values_are_errors() {
    let path = write_config("typo", "rate_limit_per_minuut = 5\n");
    assert!(matches!(
        SandboxConfig::from_file(&path),
        Err(ConfigError::Parse { .. })
    ));
    let _ = std::fs::remove_file(&path);

    let client = |id: &str, uri: &str| accountview_sandbox::ClientConfig {
        client_id: id.to_owned(),
        client_secret: "x".to_owned(),
        name: "n".to_owned(),
        redirect_uris: vec![uri.to_owned()],
    };
    let invalid = [
        SandboxConfig {
            clients: vec![],
            ..SandboxConfig::default()
        },
        SandboxConfig {
            clients: vec![client("a", "http://127.0.0.1/cb#fragment")],
            ..SandboxConfig::default()
        },
        SandboxConfig {
            clients: vec![client("a", "/relative/cb")],
            ..SandboxConfig::default()
        },
        SandboxConfig {
            clients: vec![
                client("a", "http://127.0.0.1/cb"),
                client("a", "http://127.0.0.1/other"),
            ],
            ..SandboxConfig::default()
        },
        SandboxConfig {
            debtors: 0,
            ..SandboxConfig::default()
        },
    ];
    for config in invalid {
        assert!(matches!(config.validate(), Err(ConfigError::Invalid(_))), "{config:?}");
        assert!(Sandbox::new(config).is_err());
    }
    let missing = std::env::temp_dir().join("accountview-sandbox-it-does-not-exist.toml");
    assert!(matches!(
        SandboxConfig::from_file(&missing),
        Err(ConfigError::Read { .. })
    ));
}

//! The operator's configuration: commented defaults, then an optional TOML file, then `KOPPEL_`
//! environment variables, then flags. Loaded once, validated, and passed down explicitly.

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The defaults, which double as the documentation of every setting.
pub const DEFAULTS: &str = include_str!("default.toml");

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub jobs: JobsConfig,
    pub datasync: DatasyncSection,
    pub accountview: AccountviewSection,
    pub log: LogConfig,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    pub migrate_on_start: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub bind: String,
    pub port: u16,
    pub public_url: String,
    pub trusted_proxies: Vec<String>,
    pub max_body_bytes: usize,
    pub session_lifetime_hours: u32,
    pub header_read_timeout_seconds: u64,
    pub body_read_timeout_seconds: u64,
}

impl HttpConfig {
    /// `public_url`, checked; `None` when empty.
    pub fn public_url(&self) -> anyhow::Result<Option<koppel_web::external::PublicUrl>> {
        if self.public_url.trim().is_empty() {
            return Ok(None);
        }
        Ok(Some(koppel_web::external::PublicUrl::parse(&self.public_url)?))
    }

    pub fn trusted_proxies(&self) -> anyhow::Result<koppel_web::external::TrustedProxies> {
        Ok(koppel_web::external::TrustedProxies::parse(&self.trusted_proxies)?)
    }
}

/// Background work: the worker, the scheduler and the run history (see `[jobs]` in default.toml).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    pub concurrency: u32,
    pub poll_interval_ms: u64,
    pub lease_seconds: u64,
    pub heartbeat_seconds: u64,
    pub grace_seconds: u64,
    pub max_attempts: u32,
    pub retry_base_seconds: u64,
    pub retry_max_seconds: u64,
    pub scheduler_tick_seconds: u64,
    pub history_retention_days: u32,
    pub prune_interval_minutes: u32,
    pub metrics_enabled: bool,
    pub metrics_bind: String,
    pub metrics_port: u16,
}

/// Data Sync for Power BI (see `[datasync]` in default.toml).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasyncSection {
    pub autosync_interval_seconds: u64,
    pub snapshot_retention_minutes: u32,
}

impl DatasyncSection {
    /// The settings as Data Sync takes them.
    pub fn settings(&self) -> koppel_datasync::DataSyncConfig {
        koppel_datasync::DataSyncConfig {
            autosync_interval: std::time::Duration::from_secs(self.autosync_interval_seconds),
            retention: chrono::Duration::minutes(i64::from(self.snapshot_retention_minutes)),
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.autosync_interval_seconds == 0 {
            bail!("datasync.autosync_interval_seconds must be at least 1");
        }
        if self.snapshot_retention_minutes == 0 {
            bail!("datasync.snapshot_retention_minutes must be at least 1");
        }
        Ok(())
    }
}

/// The AccountView integration (see `[accountview]` in default.toml). Off while `client_id` or
/// `encryption_key` is empty.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountviewSection {
    pub base_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_url: String,
    pub encryption_key: String,
    pub request_timeout_seconds: u64,
    pub import_interval_minutes: u32,
    pub export_interval_minutes: u32,
    pub export_concurrency: u32,
    pub rate_limit_per_minute: u32,
}

impl std::fmt::Debug for AccountviewSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountviewSection")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("redirect_url", &self.redirect_url)
            .field("encryption_key", &"***")
            .field("import_interval_minutes", &self.import_interval_minutes)
            .field("export_interval_minutes", &self.export_interval_minutes)
            .field("export_concurrency", &self.export_concurrency)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .finish_non_exhaustive()
    }
}

impl AccountviewSection {
    pub fn enabled(&self) -> bool {
        !self.client_id.is_empty() && !self.encryption_key.is_empty()
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.import_interval_minutes == 0 || self.export_interval_minutes == 0 {
            bail!("accountview.import_interval_minutes and export_interval_minutes must be at least 1");
        }
        if !(1..=64).contains(&self.export_concurrency) {
            bail!("accountview.export_concurrency must be between 1 and 64");
        }
        if self.enabled() {
            koppel_accountview::Cipher::from_key_text(&koppel_accountview::Secret::new(self.encryption_key.clone()))
                .context("accountview.encryption_key")?;
            if self.redirect_url.is_empty() || self.base_url.is_empty() {
                bail!("accountview.base_url and accountview.redirect_url are needed when AccountView is configured");
            }
        }
        Ok(())
    }

    /// The integration's configuration.
    pub fn connector_config(&self) -> koppel_accountview::AccountViewConfig {
        let mut config = koppel_accountview::AccountViewConfig::new(
            self.base_url.clone(),
            self.client_id.clone(),
            koppel_accountview::Secret::new(self.client_secret.clone()),
            self.redirect_url.clone(),
            koppel_accountview::Secret::new(self.encryption_key.clone()),
        );
        config.request_timeout = std::time::Duration::from_secs(self.request_timeout_seconds.max(1));
        config.export_concurrency = usize::try_from(self.export_concurrency).unwrap_or(1);
        config.rate_limit_per_minute = self.rate_limit_per_minute;
        config
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: String,
    pub filter: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &koppel_store::redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("migrate_on_start", &self.migrate_on_start)
            .finish()
    }
}

/// Overrides given as command-line flags.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub bind: Option<String>,
    pub port: Option<u16>,
    /// `koppel worker --metrics-port`.
    pub metrics_port: Option<u16>,
    pub log_format: Option<String>,
}

impl Config {
    /// Loads the configuration from all layers. `environment` is the process environment (passed in
    /// so tests do not depend on the machine's).
    pub fn load(flags: &Flags, environment: &[(String, String)]) -> anyhow::Result<(Config, Vec<String>)> {
        let mut table: toml::Table = DEFAULTS.parse().context("the built-in defaults do not parse")?;
        let warnings = Vec::new();
        let file = flags.config_file.clone().or_else(|| {
            environment
                .iter()
                .find(|(k, _)| k == "KOPPEL_CONFIG")
                .map(|(_, v)| PathBuf::from(v))
        });
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
            let overrides: toml::Table = text
                .parse()
                .with_context(|| format!("{} is not valid TOML", path.display()))?;
            merge(&mut table, overrides, "").with_context(|| format!("in {}", path.display()))?;
        }
        for (name, value) in environment {
            let Some(key) = name.strip_prefix("KOPPEL_") else {
                continue;
            };
            if is_tool_variable(key) {
                continue;
            }
            match env_path(&table, key) {
                Some(path) => {
                    set(&mut table, &path, value).with_context(|| format!("in environment variable {name}"))?
                }
                // A misspelt variable is an error like a misspelt file key: silently ignoring it
                // would run Koppel with a setting the operator believes is changed.
                None => match nearest_variable(&table, key) {
                    Some(nearest) => bail!(
                        "unknown environment variable {name}: Koppel has no such setting; did you mean {nearest}?"
                    ),
                    None => bail!(
                        "unknown environment variable {name}: Koppel has no such setting (KOPPEL_<SECTION>_<KEY>, see `koppel check-config`)"
                    ),
                },
            }
        }
        let flag_values = [
            (
                vec!["data_dir"],
                flags.data_dir.as_ref().map(|p| p.display().to_string()),
            ),
            (vec!["database", "url"], flags.database_url.clone()),
            (vec!["http", "bind"], flags.bind.clone()),
            (vec!["http", "port"], flags.port.map(|p| p.to_string())),
            (vec!["jobs", "metrics_port"], flags.metrics_port.map(|p| p.to_string())),
            (vec!["log", "format"], flags.log_format.clone()),
        ];
        for (path, value) in flag_values {
            if let Some(value) = value {
                let path: Vec<String> = path.into_iter().map(String::from).collect();
                set(&mut table, &path, &value)?;
            }
        }
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .context("the configuration is not valid")?;
        config.derive_defaults();
        config.validate()?;
        Ok((config, warnings))
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !matches!(self.log.format.as_str(), "human" | "json") {
            bail!("log.format must be \"human\" or \"json\", not {:?}", self.log.format);
        }
        if self.database.max_connections == 0 {
            bail!("database.max_connections must be at least 1");
        }
        let url = &self.database.url;
        if !(url.is_empty()
            || url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            bail!("database.url must be empty (SQLite in data_dir), sqlite:… or postgres://…");
        }
        if self.http.session_lifetime_hours == 0 {
            bail!("http.session_lifetime_hours must be at least 1");
        }
        if self.http.header_read_timeout_seconds == 0 || self.http.body_read_timeout_seconds == 0 {
            bail!("http.header_read_timeout_seconds and http.body_read_timeout_seconds must be at least 1");
        }
        self.http.public_url()?;
        self.http.trusted_proxies()?;
        self.datasync.validate()?;
        self.accountview.validate()?;
        self.jobs.validate()
    }

    /// Settings whose default follows from others: AccountView's `redirect_url` is
    /// `<public_url>/accountview/callback` unless set (or Koppel's own loopback address without a
    /// public URL).
    fn derive_defaults(&mut self) {
        if self.accountview.redirect_url.is_empty() {
            let base = match self.http.public_url.trim().trim_end_matches('/') {
                "" => format!("http://127.0.0.1:{}", self.http.port),
                public => public.to_string(),
            };
            self.accountview.redirect_url = format!("{base}/accountview/callback");
        }
    }

    /// The database URL in effect: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("koppel.db").display())
        } else {
            self.database.url.clone()
        }
    }

    pub fn uses_sqlite_in_data_dir(&self) -> bool {
        self.database.url.is_empty()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The effective configuration as TOML, with secrets hidden.
    pub fn redacted(&self) -> String {
        let mut shown = self.clone();
        shown.database.url = koppel_store::redact_url(&self.database.url);
        for secret in [
            &mut shown.accountview.client_secret,
            &mut shown.accountview.encryption_key,
        ] {
            if !secret.is_empty() {
                *secret = "***".into();
            }
        }
        let mut text = toml::to_string_pretty(&shown).unwrap_or_default();
        text.push_str(&format!(
            "\n# database in effect: {}\n",
            koppel_store::redact_url(&self.database_url())
        ));
        text
    }
}

impl JobsConfig {
    fn validate(&self) -> anyhow::Result<()> {
        if !(1..=256).contains(&self.concurrency) {
            bail!("jobs.concurrency must be between 1 and 256");
        }
        if self.metrics_enabled && self.metrics_bind.trim().is_empty() {
            bail!("jobs.metrics_bind must be an address such as \"127.0.0.1\" (or set jobs.metrics_enabled = false)");
        }
        if self.poll_interval_ms < 10 {
            bail!("jobs.poll_interval_ms must be at least 10");
        }
        if self.heartbeat_seconds == 0 || self.lease_seconds < 2 * self.heartbeat_seconds {
            bail!(
                "jobs.lease_seconds ({}) must be at least twice jobs.heartbeat_seconds ({}), and heartbeats at least 1 s apart, \
                 so one late heartbeat does not cost a running job its lease",
                self.lease_seconds,
                self.heartbeat_seconds
            );
        }
        if !(1..=100).contains(&self.max_attempts) {
            bail!("jobs.max_attempts must be between 1 and 100");
        }
        if self.retry_base_seconds == 0 || self.retry_max_seconds < self.retry_base_seconds {
            bail!("jobs.retry_base_seconds must be at least 1 and at most jobs.retry_max_seconds");
        }
        if self.scheduler_tick_seconds == 0 || self.history_retention_days == 0 || self.prune_interval_minutes == 0 {
            bail!(
                "jobs.scheduler_tick_seconds, jobs.history_retention_days and jobs.prune_interval_minutes must be at least 1"
            );
        }
        Ok(())
    }
}

/// Copies `overrides` into `base`; keys the defaults do not have are an error.
fn merge(base: &mut toml::Table, overrides: toml::Table, prefix: &str) -> anyhow::Result<()> {
    for (key, value) in overrides {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(override_table)) => {
                merge(base_table, override_table, &name)?
            }
            (Some(toml::Value::Table(_)), _) => bail!("{name} must be a section"),
            (Some(existing), value) => {
                if std::mem::discriminant(existing) != std::mem::discriminant(&value) {
                    bail!("{name} must be a {}", existing.type_str());
                }
                *existing = value;
            }
            (None, _) => bail!("unknown setting {name}"),
        }
    }
    Ok(())
}

/// Finds the setting an environment variable names: `HTTP_PORT`, `HTTP__PORT` or `DATA_DIR`.
fn env_path(table: &toml::Table, key: &str) -> Option<Vec<String>> {
    let key = key.to_lowercase();
    if let Some((section, rest)) = key.split_once("__") {
        return matches!(table.get(section), Some(toml::Value::Table(t)) if t.contains_key(rest))
            .then(|| vec![section.to_string(), rest.to_string()]);
    }
    if table.get(&key).is_some_and(|v| !v.is_table()) {
        return Some(vec![key]);
    }
    table
        .iter()
        .filter_map(|(section, value)| value.as_table().map(|t| (section, t)))
        .find_map(|(section, t)| {
            key.strip_prefix(&format!("{section}_"))
                .filter(|rest| t.contains_key(*rest))
                .map(|rest| vec![section.clone(), rest.to_string()])
        })
}

/// `KOPPEL_` variables that are not settings: the configuration file, and those of the tests,
/// benchmarks and CI tooling (`KOPPEL_TEST_DATABASE_URL`, `KOPPEL_BENCH_*`, `KOPPEL_REQUIRE_*`, …),
/// which are often set in the same shell that starts Koppel.
fn is_tool_variable(key: &str) -> bool {
    const PREFIXES: [&str; 4] = ["TEST_", "BENCH_", "REQUIRE_", "CONTRACT_"];
    const NAMES: [&str; 5] = [
        "CONFIG",
        "WRITE_SCHEMA",
        "ODATA_THIRD_PARTY",
        "CHROMIUM",
        "CHROMEDRIVER",
    ];
    PREFIXES.iter().any(|prefix| key.starts_with(prefix)) || NAMES.contains(&key)
}

/// Every setting's environment variable (`KOPPEL_HTTP_PORT`, `KOPPEL_DATA_DIR`, …).
fn setting_variables(table: &toml::Table) -> Vec<String> {
    let mut names = Vec::new();
    for (key, value) in table {
        match value.as_table() {
            Some(section) => names.extend(
                section
                    .keys()
                    .map(|setting| format!("KOPPEL_{}_{}", key.to_uppercase(), setting.to_uppercase())),
            ),
            None => names.push(format!("KOPPEL_{}", key.to_uppercase())),
        }
    }
    names
}

/// The setting variable closest to a misspelt one (by edit distance), when one is close enough to
/// be a likely typo.
fn nearest_variable(table: &toml::Table, key: &str) -> Option<String> {
    let wanted = format!("KOPPEL_{}", key.to_uppercase().replace("__", "_"));
    setting_variables(table)
        .into_iter()
        .map(|name| (edit_distance(&wanted, &name), name))
        .min()
        .filter(|(distance, name)| *distance <= (name.len() / 3).max(2))
        .map(|(_, name)| name)
}

/// Levenshtein distance between two ASCII-ish strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// Sets a value given as text, converted to the type the default has.
fn set(table: &mut toml::Table, path: &[String], text: &str) -> anyhow::Result<()> {
    let (last, sections) = path.split_last().expect("non-empty path");
    let mut current = table;
    for section in sections {
        current = current
            .get_mut(section)
            .and_then(|v| v.as_table_mut())
            .context("unknown section")?;
    }
    let name = path.join(".");
    let value = match current.get(last) {
        Some(toml::Value::Integer(_)) => toml::Value::Integer(
            text.trim()
                .parse()
                .with_context(|| format!("{name} must be a whole number, not {text:?}"))?,
        ),
        Some(toml::Value::Boolean(_)) => toml::Value::Boolean(
            text.trim()
                .parse()
                .with_context(|| format!("{name} must be true or false, not {text:?}"))?,
        ),
        // A list from the environment: comma-separated, e.g. KOPPEL_HTTP_TRUSTED_PROXIES=10.0.0.1,fd00::/8.
        Some(toml::Value::Array(_)) => toml::Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| toml::Value::String(item.to_string()))
                .collect(),
        ),
        Some(_) => toml::Value::String(text.to_string()),
        None => bail!("unknown setting {name}"),
    };
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_start_on_sqlite_on_localhost_8080() {
        let (config, warnings) = Config::load(&Flags::default(), &[]).unwrap();
        assert_eq!(config.http.port, 8080);
        assert_eq!(config.http.bind, "127.0.0.1");
        assert!(config.database_url().starts_with("sqlite://"));
        assert!(warnings.is_empty());
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("koppel-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("koppel.toml");
        std::fs::write(
            &file,
            "[http]\nport = 9000\nbind = \"0.0.0.0\"\n[log]\nformat = \"json\"\n",
        )
        .unwrap();
        let flags = Flags {
            config_file: Some(file),
            port: Some(9100),
            ..Flags::default()
        };
        let environment = env(&[
            ("KOPPEL_HTTP_PORT", "9050"),
            ("KOPPEL_LOG__FILTER", "debug"),
            ("KOPPEL_TEST_DATABASE_URL", "x"),
        ]);
        let (config, warnings) = Config::load(&flags, &environment).unwrap();
        assert_eq!(config.http.port, 9100, "flag beats environment beats file");
        assert_eq!(config.http.bind, "0.0.0.0", "file beats default");
        assert_eq!(config.log.format, "json");
        assert_eq!(config.log.filter, "debug");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn mistakes_are_reported_clearly() {
        let dir = std::env::temp_dir().join(format!("koppel-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.toml");
        std::fs::write(&file, "[http]\nprot = 9000\n").unwrap();
        let error = Config::load(
            &Flags {
                config_file: Some(file),
                ..Flags::default()
            },
            &[],
        )
        .unwrap_err();
        assert!(format!("{error:#}").contains("unknown setting http.prot"), "{error:#}");
        let error = Config::load(&Flags::default(), &env(&[("KOPPEL_HTTP_PORT", "eighty")])).unwrap_err();
        assert!(
            format!("{error:#}").contains("http.port must be a whole number"),
            "{error:#}"
        );
    }

    #[test]
    fn a_misspelt_environment_variable_is_an_error_naming_the_nearest_setting() {
        let error = Config::load(&Flags::default(), &env(&[("KOPPEL_HTTP_PROT", "9000")])).unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains("unknown environment variable KOPPEL_HTTP_PROT"), "{text}");
        assert!(text.contains("did you mean KOPPEL_HTTP_PORT?"), "{text}");
        let error = Config::load(&Flags::default(), &env(&[("KOPPEL_DATABSE_URL", "sqlite::memory:")])).unwrap_err();
        assert!(
            format!("{error:#}").contains("did you mean KOPPEL_DATABASE_URL?"),
            "{error:#}"
        );
        // Nothing close: still an error, without a guess.
        let error = Config::load(&Flags::default(), &env(&[("KOPPEL_COLOUR", "red")])).unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains("unknown environment variable KOPPEL_COLOUR"), "{text}");
        assert!(!text.contains("did you mean"), "{text}");
        // The variables of tests, benchmarks and CI are not settings and not errors.
        let tools = env(&[
            ("KOPPEL_TEST_DATABASE_URL", "postgres://x"),
            ("KOPPEL_TEST_SEED", "1"),
            ("KOPPEL_BENCH_SCALE", "1000"),
            ("KOPPEL_BENCH_DATABASE_URL", "postgres://x"),
            ("KOPPEL_REQUIRE_TOOLS", "1"),
            ("KOPPEL_REQUIRE_BROWSER", "1"),
            ("KOPPEL_WRITE_SCHEMA", "1"),
            ("KOPPEL_ODATA_THIRD_PARTY", "1"),
            ("KOPPEL_CHROMIUM", "/usr/bin/chromium"),
            ("KOPPEL_CHROMEDRIVER", "/usr/bin/chromedriver"),
            ("KOPPEL_HTTP__PORT", "9001"),
        ]);
        let (config, warnings) = Config::load(&Flags::default(), &tools).unwrap();
        assert_eq!(config.http.port, 9001);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn every_setting_has_a_variable_that_loads() {
        let table: toml::Table = DEFAULTS.parse().unwrap();
        for name in setting_variables(&table) {
            let key = name.strip_prefix("KOPPEL_").unwrap();
            assert!(env_path(&table, key).is_some(), "{name} names no setting");
        }
    }

    #[test]
    fn the_worker_metrics_port_comes_from_file_environment_or_flag() {
        let (config, _) = Config::load(&Flags::default(), &[]).unwrap();
        assert!(config.jobs.metrics_enabled);
        assert_eq!(
            (config.jobs.metrics_bind.as_str(), config.jobs.metrics_port),
            ("127.0.0.1", 8081)
        );
        assert_ne!(config.jobs.metrics_port, config.http.port);
        let environment = env(&[("KOPPEL_JOBS_METRICS_PORT", "9182")]);
        let (config, _) = Config::load(&Flags::default(), &environment).unwrap();
        assert_eq!(config.jobs.metrics_port, 9182);
        let flags = Flags {
            metrics_port: Some(9183),
            ..Flags::default()
        };
        let (config, _) = Config::load(&flags, &environment).unwrap();
        assert_eq!(config.jobs.metrics_port, 9183, "the flag beats the environment");
        let environment = env(&[
            ("KOPPEL_JOBS_METRICS_ENABLED", "false"),
            ("KOPPEL_JOBS_METRICS_BIND", ""),
        ]);
        let (config, _) = Config::load(&Flags::default(), &environment).unwrap();
        assert!(!config.jobs.metrics_enabled);
        let error = Config::load(&Flags::default(), &env(&[("KOPPEL_JOBS_METRICS_BIND", " ")])).unwrap_err();
        assert!(format!("{error:#}").contains("jobs.metrics_bind"), "{error:#}");
    }

    #[test]
    fn job_settings_are_checked() {
        let (config, _) = Config::load(&Flags::default(), &[]).unwrap();
        assert_eq!((config.jobs.lease_seconds, config.jobs.heartbeat_seconds), (20, 5));
        let (config, _) = Config::load(
            &Flags::default(),
            &env(&[
                ("KOPPEL_JOBS_LEASE_SECONDS", "2"),
                ("KOPPEL_JOBS_HEARTBEAT_SECONDS", "1"),
            ]),
        )
        .unwrap();
        assert_eq!((config.jobs.lease_seconds, config.jobs.heartbeat_seconds), (2, 1));
        let error = Config::load(&Flags::default(), &env(&[("KOPPEL_JOBS_HEARTBEAT_SECONDS", "45")])).unwrap_err();
        assert!(
            format!("{error:#}").contains("at least twice jobs.heartbeat_seconds"),
            "{error:#}"
        );
        let error = Config::load(&Flags::default(), &env(&[("KOPPEL_JOBS_CONCURRENCY", "0")])).unwrap_err();
        assert!(format!("{error:#}").contains("jobs.concurrency"), "{error:#}");
    }

    #[test]
    fn public_url_and_trusted_proxies_are_checked_and_public_url_sets_the_callback() {
        let (config, _) = Config::load(&Flags::default(), &[]).unwrap();
        assert_eq!(
            config.accountview.redirect_url,
            "http://127.0.0.1:8080/accountview/callback"
        );
        assert!(
            config.http.trusted_proxies().unwrap().is_empty(),
            "nobody is trusted by default"
        );
        let (config, _) = Config::load(
            &Flags::default(),
            &env(&[
                ("KOPPEL_HTTP_PUBLIC_URL", "https://bi.example.nl/"),
                ("KOPPEL_HTTP_TRUSTED_PROXIES", "10.0.0.0/8, fd00::1"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.accountview.redirect_url,
            "https://bi.example.nl/accountview/callback"
        );
        assert_eq!(config.http.trusted_proxies, ["10.0.0.0/8", "fd00::1"]);
        assert!(config.http.public_url().unwrap().is_some());
        let (config, _) = Config::load(
            &Flags::default(),
            &env(&[
                ("KOPPEL_HTTP_PUBLIC_URL", "https://bi.example.nl"),
                ("KOPPEL_ACCOUNTVIEW_REDIRECT_URL", "https://other.example/cb"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.accountview.redirect_url, "https://other.example/cb",
            "set explicitly, it stays"
        );
        for (name, value, expected) in [
            ("KOPPEL_HTTP_PUBLIC_URL", "bi.example.nl", "http.public_url"),
            ("KOPPEL_HTTP_PUBLIC_URL", "https://bi.example.nl?x=1", "http.public_url"),
            ("KOPPEL_HTTP_TRUSTED_PROXIES", "10.0.0.0/40", "http.trusted_proxies"),
            ("KOPPEL_HTTP_TRUSTED_PROXIES", "proxy.local", "http.trusted_proxies"),
        ] {
            let error = Config::load(&Flags::default(), &env(&[(name, value)])).unwrap_err();
            assert!(format!("{error:#}").contains(expected), "{value}: {error:#}");
        }
    }

    #[test]
    fn secrets_are_redacted() {
        let flags = Flags {
            database_url: Some("postgres://koppel:hunter2@db/koppel".into()),
            ..Flags::default()
        };
        let (config, _) = Config::load(&flags, &[]).unwrap();
        assert!(!config.redacted().contains("hunter2"));
        assert!(!format!("{config:?}").contains("hunter2"));
        for url in [
            "postgres://koppel@db/koppel?password=hunter2",
            "postgres://db/koppel?sslmode=require&PASSWORD=hunter2",
            "postgres://koppel@db/koppel?sslpassword=hunter2&password=hunter2",
            "postgresql://koppel:hunter2@db:5433/koppel?application_name=koppel",
        ] {
            let flags = Flags {
                database_url: Some(url.into()),
                ..Flags::default()
            };
            let (config, _) = Config::load(&flags, &[]).unwrap();
            let shown = config.redacted();
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
            assert!(!format!("{config:?}").contains("hunter2"));
        }
    }
}

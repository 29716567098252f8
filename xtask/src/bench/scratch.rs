//! Throw-away places for a benchmark run: a temporary directory (server log, SQLite files) and, on
//! PostgreSQL, a `koppel_bench_<random>` database on the given server. Both are removed afterwards.

use anyhow::Context;
use sqlx::Connection;
use std::hash::{BuildHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

/// Which database a benchmark runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The `--backend` option of the benchmarks that start `koppel serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

/// The backends to measure and the PostgreSQL server to make a throw-away database on. Without a
/// choice: both when KOPPEL_BENCH_DATABASE_URL or KOPPEL_TEST_DATABASE_URL names a server, else SQLite.
pub fn choose_backends(choice: Option<BackendChoice>, bench: &str) -> anyhow::Result<(Vec<Backend>, Option<String>)> {
    let postgres_url = std::env::var("KOPPEL_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("KOPPEL_TEST_DATABASE_URL"))
        .ok()
        .filter(|url| !url.is_empty());
    let backends = match (choice, &postgres_url) {
        (Some(BackendChoice::Sqlite), _) | (None, None) => vec![Backend::Sqlite],
        (Some(BackendChoice::Postgres), Some(_)) => vec![Backend::Postgres],
        (Some(BackendChoice::Both), Some(_)) | (None, Some(_)) => vec![Backend::Sqlite, Backend::Postgres],
        (Some(BackendChoice::Postgres | BackendChoice::Both), None) => anyhow::bail!(
            "PostgreSQL needs a server: set KOPPEL_BENCH_DATABASE_URL (or KOPPEL_TEST_DATABASE_URL), e.g. \
             postgres://postgres@127.0.0.1:5432/postgres; a throw-away database is created on it and dropped after"
        ),
    };
    if choice.is_none() && postgres_url.is_none() {
        eprintln!("bench {bench}: PostgreSQL skipped (set KOPPEL_BENCH_DATABASE_URL to measure it too)");
    }
    Ok((backends, postgres_url))
}

/// A short random hex string for unique names; std's hasher keys are random per process.
pub fn random_suffix() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    std::process::id().hash(&mut hasher);
    std::time::SystemTime::now().hash(&mut hasher);
    format!("{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

/// Bytes in a directory tree; 0 for what cannot be read.
pub fn directory_size_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => directory_size_bytes(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |metadata| metadata.len()),
            Err(_) => 0,
        })
        .sum()
}

/// A fresh database for one benchmark run, and the directory the server runs in.
pub struct Scratch {
    pub backend: Backend,
    pub directory: PathBuf,
    /// What `koppel --database-url` gets.
    pub database_url: String,
    postgres: Option<PostgresDatabase>,
}

struct PostgresDatabase {
    admin_url: String,
    name: String,
}

impl Scratch {
    /// Creates the directory, and on PostgreSQL the database (through `admin_url`, a URL of any
    /// database on that server the user may create databases from).
    pub async fn create(backend: Backend, admin_url: Option<&str>) -> anyhow::Result<Scratch> {
        let suffix = random_suffix();
        let directory = std::env::temp_dir().join(format!("koppel-bench-{suffix}"));
        std::fs::create_dir_all(&directory)
            .with_context(|| format!("could not create the directory {}", directory.display()))?;
        let mut scratch = Scratch {
            backend,
            database_url: format!("sqlite://{}", directory.join("koppel.db").display()),
            directory,
            postgres: None,
        };
        if backend == Backend::Postgres {
            let admin_url = admin_url.context("no PostgreSQL URL to create the benchmark database on")?;
            // Only [a-z0-9_]: safe to put into CREATE DATABASE, which cannot take a bind parameter.
            let name = format!("koppel_bench_{suffix}");
            let created = execute(admin_url, format!("CREATE DATABASE {name}")).await;
            if let Err(error) = created {
                scratch.remove_directory();
                return Err(error.context(format!(
                    "could not create the database {name} on {}",
                    koppel_store::redact_url(admin_url)
                )));
            }
            scratch.database_url = with_database(admin_url, &name);
            scratch.postgres = Some(PostgresDatabase {
                admin_url: admin_url.to_string(),
                name,
            });
        }
        Ok(scratch)
    }

    /// A name for messages: the SQLite file or the PostgreSQL database.
    pub fn describe(&self) -> String {
        match &self.postgres {
            Some(database) => format!("database {}", database.name),
            None => format!("file {}", self.directory.join("koppel.db").display()),
        }
    }

    /// Size of the SQLite files, or of the PostgreSQL database.
    pub async fn size_bytes(&self) -> Option<u64> {
        match &self.postgres {
            None => Some(directory_size_bytes(&self.directory)),
            Some(_) => {
                let mut connection = sqlx::PgConnection::connect(&self.database_url).await.ok()?;
                let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(&mut connection)
                    .await
                    .ok()?;
                let _ = connection.close().await;
                u64::try_from(size).ok()
            }
        }
    }

    /// Drops the database (disconnecting whoever is left) and removes the directory.
    pub async fn remove(mut self) -> anyhow::Result<()> {
        let dropped = match self.postgres.take() {
            Some(database) => execute(
                &database.admin_url,
                format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", database.name),
            )
            .await
            .with_context(|| {
                format!(
                    "could not drop the benchmark database {}; drop it by hand",
                    database.name
                )
            }),
            None => Ok(()),
        };
        self.remove_directory();
        dropped
    }

    fn remove_directory(&self) {
        if let Err(error) = std::fs::remove_dir_all(&self.directory) {
            eprintln!("warning: could not remove {}: {error}", self.directory.display());
        }
    }
}

async fn execute(url: &str, statement: String) -> anyhow::Result<()> {
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .with_context(|| format!("could not connect to {}", koppel_store::redact_url(url)))?;
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(&mut connection)
        .await?;
    let _ = connection.close().await;
    Ok(())
}

/// The same server URL with another database name (keeping query parameters).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "koppel_bench_1"),
            "postgres://postgres@127.0.0.1:5432/koppel_bench_1"
        );
        assert_eq!(
            with_database("postgres://u:p@db:5432?sslmode=disable", "x"),
            "postgres://u:p@db:5432/x?sslmode=disable"
        );
    }

    #[test]
    fn random_suffixes_are_safe_identifiers() {
        let suffix = random_suffix();
        assert_eq!(suffix.len(), 12);
        assert!(suffix.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(suffix, random_suffix());
    }
}

//! `koppel serve --demo`: the demo brings its own AccountView and tells a story.
//!
//! Unless the operator configured `[accountview]`, the AccountView sandbox runs inside this process
//! on a free loopback port, with a client registered for Koppel's callback on the port Koppel
//! actually listens on. What has to survive a restart lives in the data directory:
//!
//! - `accountview-demo.key`: the encryption key of the stored AccountView tokens, made once (mode
//!   0600), so connections made in the demo stay readable;
//! - `accountview-sandbox.json`: the sandbox's own state (its grants and hashed tokens, the invoices
//!   posted to it), written by the sandbox within a second of every change and at shutdown, so the
//!   tokens Koppel holds are still known to the sandbox after a restart;
//! - `demo-feed-token`: the Power BI feed token of the main administration (mode 0600), so the same
//!   ready `curl` line is printed on every start (a new token is made when it was revoked).
//!
//! On the first start (when the demo data is made) the story is set up: the main administration gets
//! Autosync (its first sync runs at once), and in the background, once the server is up, the branch
//! in Zwolle is connected to the sandbox's second company, imports, and exports four completed work
//! orders, one of which AccountView refuses because it does not know the customer.

use crate::config::{AccountviewSection, Config};
use accountview_sandbox::{ClientConfig, KSO_2026_ID, Sandbox, SandboxConfig};
use anyhow::{Context, bail};
use koppel_accountview::oauth::CallbackParameters;
use koppel_accountview::{AccountView, Settings};
use koppel_datasync::tokens::FeedTokenCheck;
use koppel_domain::{AdministrationId, UserId};
use koppel_jobs::runs::{Run, RunStatus};
use koppel_store::Store;
use koppel_store::platform::Administration;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The demo's AccountView encryption key, in the data directory.
pub const KEY_FILE: &str = "accountview-demo.key";
/// The embedded sandbox's state, in the data directory.
pub const SANDBOX_STATE_FILE: &str = "accountview-sandbox.json";
/// The main administration's feed token, in the data directory.
pub const FEED_TOKEN_FILE: &str = "demo-feed-token";
/// The OAuth client the demo registers with its sandbox.
const CLIENT_ID: &str = "koppel-demo";
/// The branch the story connects, and the sandbox login (the second company's bookkeeper) it uses.
const STORY_BRANCH: &str = "Van Dijk Zwolle";
const STORY_SANDBOX_LOGIN: &str = "boekhouding@klimaatservice-oost.nl";
const FEED_TOKEN_NAME: &str = "Demo (koppel serve --demo)";
/// How long the story waits for one of its imports or exports.
const STORY_RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// 32 random bytes as 64 hex digits: an `[accountview] encryption_key` (`koppel generate-key`).
pub fn generate_key() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// The sandbox of this process, bound and ready to serve.
pub struct DemoSandbox {
    sandbox: Sandbox,
    listener: tokio::net::TcpListener,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// `[accountview]` as the connector needs it for this sandbox.
    pub section: AccountviewSection,
    /// Its logins: (login, password, name).
    pub logins: Vec<(String, String, String)>,
}

impl DemoSandbox {
    /// Starts the sandbox in this process (state from the data directory) and registers a client for
    /// Koppel's callback at `koppel`, the address Koppel listens on.
    pub async fn start(config: &Config, koppel: SocketAddr) -> anyhow::Result<DemoSandbox> {
        let data_dir = config.data_dir();
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
        let key = encryption_key(&data_dir.join(KEY_FILE))?;
        let redirect_url = format!("{}/accountview/callback", koppel_origin(config, koppel));
        // A new secret on every start: the client exists only in this process's configuration.
        let client_secret = generate_key();
        let sandbox_config = SandboxConfig {
            clients: vec![ClientConfig {
                client_id: CLIENT_ID.into(),
                client_secret: client_secret.clone(),
                name: "Koppel (demo)".into(),
                redirect_uris: vec![redirect_url.clone()],
            }],
            state_file: Some(data_dir.join(SANDBOX_STATE_FILE)),
            ..SandboxConfig::default()
        };
        let sandbox = Sandbox::new(sandbox_config).context("the demo's AccountView sandbox cannot start")?;
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("the demo's AccountView sandbox cannot listen on 127.0.0.1")?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let section = AccountviewSection {
            base_url: base_url.clone(),
            client_id: CLIENT_ID.into(),
            client_secret,
            redirect_url,
            encryption_key: key,
            ..config.accountview.clone()
        };
        let logins = sandbox.logins();
        Ok(DemoSandbox {
            sandbox,
            listener,
            base_url,
            section,
            logins,
        })
    }

    /// What the AccountView page tells its visitors: this is the sandbox, log in like this.
    pub fn notice(&self) -> Option<koppel_web::AccountViewSandbox> {
        self.logins
            .first()
            .map(|(login, password, _)| koppel_web::AccountViewSandbox {
                base_url: self.base_url.clone(),
                login: login.clone(),
                password: password.clone(),
            })
    }

    fn password_of(&self, login: &str) -> Option<String> {
        self.logins
            .iter()
            .find(|(candidate, _, _)| candidate == login)
            .map(|(_, password, _)| password.clone())
    }

    /// Serves until `shutdown`, then writes the sandbox's state file one last time.
    pub fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let DemoSandbox { sandbox, listener, .. } = self;
        tokio::spawn(async move {
            if let Err(error) = sandbox.serve_with_shutdown(listener, shutdown).await {
                tracing::error!(error = %error, "the demo's AccountView sandbox stopped");
            }
        })
    }
}

/// Where browsers reach Koppel: `http.public_url`, or the address it listens on (loopback when it
/// listens on every address).
pub fn koppel_origin(config: &Config, koppel: SocketAddr) -> String {
    let public = config.http.public_url.trim_end_matches('/');
    if !public.is_empty() {
        return public.to_string();
    }
    let ip = if koppel.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        koppel.ip()
    };
    format!("http://{}", SocketAddr::new(ip, koppel.port()))
}

/// The key in `path`, made (readable by the owner only) when there is none yet.
fn encryption_key(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = text.trim().to_string();
            koppel_accountview::Cipher::from_key_text(&koppel_accountview::Secret::new(key.clone())).with_context(
                || {
                    format!(
                        "{} does not hold a usable key (64 hex digits); remove it to make a new one \
                         (demo AccountView connections then have to be made again)",
                        path.display()
                    )
                },
            )?;
            Ok(key)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = generate_key();
            match write_private(path, &format!("{key}\n")) {
                Ok(()) => Ok(key),
                // Another process made it first: use that one.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => encryption_key(path),
                Err(error) => Err(error).with_context(|| format!("cannot write {}", path.display())),
            }
        }
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Creates `path` (never overwriting) readable and writable by the owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// The demo group as found in the database.
pub struct DemoGroup {
    pub main: Administration,
    pub administrations: Vec<Administration>,
    /// The group administrator (every right everywhere), who "did" what the story did.
    pub administrator: UserId,
}

impl DemoGroup {
    /// The demo group, or `None` when the database has none (a `demo --scale` database, say).
    pub async fn find(store: &Store) -> anyhow::Result<Option<DemoGroup>> {
        let Some(environment) = store.environment_named(koppel_demo::GROUP_ENVIRONMENT).await? else {
            return Ok(None);
        };
        let administrations = store.administrations(environment).await?;
        let Some(main) = administrations.iter().find(|a| a.is_main).cloned() else {
            return Ok(None);
        };
        let logins = koppel_demo::group_logins();
        let users = store.users(environment).await?;
        let Some(administrator) = logins
            .first()
            .and_then(|login| users.iter().find(|user| user.email == login.email))
        else {
            return Ok(None);
        };
        Ok(Some(DemoGroup {
            main,
            administrator: administrator.id,
            administrations,
        }))
    }

    fn branch(&self, name: &str) -> Option<&Administration> {
        self.administrations.iter().find(|a| a.name == name)
    }
}

/// The first part of the story, before the server starts: Autosync on in the main administration,
/// so the worker's Autosync runs its first sync straight away.
pub async fn switch_autosync_on(store: &Store, group: &DemoGroup) -> anyhow::Result<()> {
    koppel_datasync::state::set_autosync(
        store,
        group.main.id,
        koppel_datasync::state::AutosyncSwitch::On,
        Some(group.administrator),
    )
    .await
    .context("switching Autosync on in the demo's main administration failed")?;
    Ok(())
}

/// The main administration's feed token: the one kept in the data directory while it still works,
/// otherwise a new one (kept there for the next start).
pub async fn feed_token(store: &Store, data_dir: &Path, group: &DemoGroup) -> anyhow::Result<String> {
    let path = data_dir.join(FEED_TOKEN_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let secret = text.trim().to_string();
        if let FeedTokenCheck::Valid { administration } = koppel_datasync::tokens::check(store, &secret).await?
            && administration == group.main.id
        {
            return Ok(secret);
        }
        // Revoked, or from another database: replace it.
        std::fs::remove_file(&path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let (_, secret) =
        koppel_datasync::tokens::create(store, group.main.id, FEED_TOKEN_NAME, Some(group.administrator)).await?;
    write_private(&path, &format!("{secret}\n")).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(secret)
}

/// What the start banner tells.
pub struct Banner<'a> {
    pub koppel_url: String,
    pub group: &'a DemoGroup,
    pub sandbox: Option<&'a DemoSandbox>,
    pub feed_token: String,
    pub data_dir: PathBuf,
}

/// Prints the logins, the sandbox and a ready `curl` line for the feed; on every `serve --demo` start.
pub fn print_banner(banner: &Banner<'_>) {
    println!("Koppel demo: {}/", banner.koppel_url);
    println!("Demo logins (demo data only; change them for anything real):");
    for login in koppel_demo::group_logins() {
        println!("  {:<34} {:<22} {}", login.email, login.password, login.access);
    }
    match banner.sandbox {
        Some(sandbox) => {
            println!(
                "AccountView: the demo's own sandbox at {} (sample books, not a real AccountView). Its logins:",
                sandbox.base_url
            );
            for (login, password, name) in &sandbox.logins {
                println!("  {login:<34} {password:<22} {name}");
            }
        }
        None => println!("AccountView: as configured in [accountview]."),
    }
    let feed = koppel_datasync::feed_name(banner.group.main.id);
    println!(
        "Power BI feed of {} (token kept in {}):",
        banner.group.main.name,
        banner.data_dir.join(FEED_TOKEN_FILE).display()
    );
    println!(
        "  curl -u '{feed}:{}' '{}/odata/v4/{feed}/WorkOrders?$top=3'",
        banner.feed_token, banner.koppel_url
    );
}

/// The story's second part, run in the background once the server is up: the branch in Zwolle is
/// connected to the sandbox's second company through the sandbox's real login and consent pages,
/// saved, imported, and exports the story's work orders (one refused by AccountView).
pub async fn connect_story_branch(
    store: Store,
    accountview: AccountView,
    sandbox_base: String,
    sandbox_password: String,
    group: DemoGroup,
) -> anyhow::Result<()> {
    let Some(branch) = group.branch(STORY_BRANCH).cloned() else {
        bail!("the demo group has no branch {STORY_BRANCH}");
    };
    let user = group.administrator;
    let parameters = sign_in_at_sandbox(&accountview, branch.id, user, &sandbox_base, &sandbox_password).await?;
    accountview
        .complete_sign_in(&parameters, user)
        .await
        .context("the sandbox's sign-in did not complete")?;
    let connection = accountview
        .connection(branch.id)
        .await?
        .context("the connection is not there after signing in")?;
    let mut settings = Settings::of(&connection);
    accountview
        .save(branch.id, KSO_2026_ID, &settings)
        .await
        .map_err(|error| anyhow::anyhow!("saving the administration failed: {error:?}"))?;
    let import = koppel_accountview::import::enqueue(&store, branch.id, Vec::new(), Some(user)).await?;
    let run = finished(&store, import.run()).await?;
    if run.status != RunStatus::Succeeded {
        bail!("the story's import ended {:?}: {:?}", run.status, run.detail);
    }
    let orders = koppel_demo::story::completed_work_orders(&store, &branch).await?;
    let export = &mut settings.export;
    export.enabled = true;
    export.sales_journal = Some("VRK".into());
    export.hours_account = Some("8000".into());
    export.materials_account = Some("8100".into());
    export.vat_codes = [("21", "2"), ("9", "1"), ("0", "0"), ("verlegd", "3")]
        .into_iter()
        .map(|(rate, code)| (rate.to_string(), code.to_string()))
        .collect();
    // Off (the default): a customer AccountView does not know is refused, not created.
    export.create_missing_debtors = false;
    accountview
        .save(branch.id, KSO_2026_ID, &settings)
        .await
        .map_err(|error| anyhow::anyhow!("saving the export settings failed: {error:?}"))?;
    let export = koppel_accountview::export::enqueue(&store, branch.id, Some(user)).await?;
    let run = finished(&store, export.run()).await?;
    tracing::info!(
        administration.id = %branch.id,
        run.status = run.status.as_str(),
        work_orders = orders.known_customers.len() + 1,
        refused.customer = %orders.unknown_customer_code,
        "demo story: {} connected to the sandbox, imported and exported",
        branch.name
    );
    Ok(())
}

/// Walks the sandbox's login and consent pages as a browser would (the sandbox's own walk,
/// `accountview_sandbox::loopback`); returns the callback's parameters.
async fn sign_in_at_sandbox(
    accountview: &AccountView,
    administration: AdministrationId,
    user: UserId,
    sandbox_base: &str,
    password: &str,
) -> anyhow::Result<CallbackParameters> {
    let authorize = accountview.begin_sign_in(administration, user).await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let location = accountview_sandbox::loopback::walk_consent(
        &http,
        sandbox_base,
        &authorize,
        (STORY_SANDBOX_LOGIN, password),
        "approve",
    )
    .await
    .context("signing in at the sandbox failed")?;
    Ok(CallbackParameters::from_callback_url(&location)?)
}

/// Waits until a run has finished.
async fn finished(store: &Store, run: koppel_jobs::RunId) -> anyhow::Result<Run> {
    let deadline = tokio::time::Instant::now() + STORY_RUN_TIMEOUT;
    loop {
        let current = koppel_jobs::runs::any_run(store, run).await?;
        if current.status.is_finished() {
            return Ok(current);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("run {run} did not finish within {} s", STORY_RUN_TIMEOUT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The password of the sandbox login the story uses.
pub fn story_password(sandbox: &DemoSandbox) -> anyhow::Result<String> {
    sandbox
        .password_of(STORY_SANDBOX_LOGIN)
        .with_context(|| format!("the sandbox has no login {STORY_SANDBOX_LOGIN}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_32_random_bytes_in_hex() {
        let key = generate_key();
        assert_eq!(key.len(), 64);
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(key, generate_key());
        koppel_accountview::Cipher::from_key_text(&koppel_accountview::Secret::new(key)).unwrap();
    }

    #[test]
    fn the_key_file_is_made_once_and_private() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(KEY_FILE);
        let first = encryption_key(&path).unwrap();
        assert_eq!(encryption_key(&path).unwrap(), first, "kept, not made again");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").unwrap();
        let error = encryption_key(&path).unwrap_err();
        assert!(format!("{error:#}").contains("does not hold a usable key"), "{error:#}");
    }

    #[test]
    fn the_callback_follows_the_listening_address_or_the_public_url() {
        let (mut config, _) = Config::load(&crate::config::Flags::default(), &[]).unwrap();
        let any: SocketAddr = "0.0.0.0:43123".parse().unwrap();
        assert_eq!(koppel_origin(&config, any), "http://127.0.0.1:43123");
        let v6: SocketAddr = "[::1]:8081".parse().unwrap();
        assert_eq!(koppel_origin(&config, v6), "http://[::1]:8081");
        config.http.public_url = "https://koppel.example/".into();
        assert_eq!(koppel_origin(&config, any), "https://koppel.example");
    }
}

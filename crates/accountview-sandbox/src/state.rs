//! The sandbox's whole state — administrations, users and their rights, OAuth grants and tokens, settings and
//! the log of posted documents — behind one lock, plus saving it to and loading it from a state file.
//!
//! One `RwLock` is enough: reads (the hot path) share it, writes are short and in-memory. Faults and the rate
//! limiter live in their own mutexes because they change on every request and are never persisted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::books::Administration;
use crate::catalog::BUSINESS_OBJECTS;
use crate::clock::Clock;
use crate::config::{SandboxConfig, TokenSettings};
use crate::faults::{CallLog, Faults, RateLimiter};
use crate::seed;

/// Bumped when the state file's shape changes, so an old file is refused with a clear message.
const STATE_FORMAT_VERSION: u32 = 1;

/// What a user may do with one business object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rights {
    pub read: bool,
    pub insert: bool,
    pub update: bool,
    pub delete: bool,
}

/// A login of the authorize page.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub login: String,
    /// Kept in plain text on purpose: these are documented test logins of a loopback test double.
    pub password: String,
    pub display_name: String,
    /// `Id`s of the administrations this user may reach, in `GET /Companies` order.
    pub administrations: Vec<String>,
    /// Rights per business object code; a code without an entry, or with every right off, is not accessible.
    pub rights: BTreeMap<String, Rights>,
}

impl User {
    /// The user's rights on a business object, or `None` when the user has no access to it at all.
    pub fn rights_for(&self, business_object: &str) -> Option<Rights> {
        self.rights
            .get(business_object)
            .copied()
            .filter(|rights| rights.read || rights.insert || rights.update || rights.delete)
    }
}

/// An authorization request between the authorize page and the consent decision.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    /// Set once the user has logged in.
    pub user: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// An issued authorization code, kept (hashed) after use so a second use can be recognised and punished.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthorizationCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub user: String,
    pub scope: Vec<String>,
    pub code_challenge: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// The grant the code was exchanged for, once it was.
    pub exchanged_for: Option<u64>,
}

/// A user's consent to a client: what access and refresh tokens hang off.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Grant {
    pub id: u64,
    pub user: String,
    pub client_id: String,
    pub scope: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IssuedToken {
    pub grant_id: u64,
    /// The scope of this token: the grant's, or narrower after a refresh that asked for less.
    pub scope: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

/// OAuth bookkeeping. Codes and tokens are stored under the SHA-256 of their value, so a state file does
/// not hold usable bearer tokens.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OAuthStore {
    pub pending: HashMap<String, PendingAuthorization>,
    pub codes: HashMap<String, AuthorizationCode>,
    pub grants: BTreeMap<u64, Grant>,
    pub access_tokens: HashMap<String, IssuedToken>,
    pub refresh_tokens: HashMap<String, IssuedToken>,
    pub next_grant_id: u64,
}

impl OAuthStore {
    /// Removes a grant and every token hanging off it.
    pub fn revoke_grant(&mut self, grant_id: u64) -> bool {
        self.access_tokens.retain(|_, token| token.grant_id != grant_id);
        self.refresh_tokens.retain(|_, token| token.grant_id != grant_id);
        self.grants.remove(&grant_id).is_some()
    }

    /// Forgets what has expired; called when something new is issued, which bounds the maps' growth.
    pub fn purge_expired(&mut self, now: DateTime<Utc>) {
        self.pending.retain(|_, pending| pending.expires_at > now);
        self.codes.retain(|_, code| code.expires_at > now);
        self.access_tokens.retain(|_, token| token.expires_at > now);
        self.refresh_tokens.retain(|_, token| token.expires_at > now);
    }
}

/// One `POST AccountViewData` as the sandbox saw it, for `/_sandbox/posted`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PostedDocument {
    pub sequence: u64,
    pub at: NaiveDateTime,
    pub company_id: String,
    pub business_object: String,
    pub user: String,
    pub client_id: String,
    /// HTTP status of the answer (200 also for errors delivered with 200).
    pub status: u16,
    /// Whether the document was stored in the books.
    pub committed: bool,
    /// The body the client was answered with: `{"BusinessObject","Results"}` or the error.
    pub answer: serde_json::Value,
    /// The request body as received.
    pub request: serde_json::Value,
}

/// Everything that is persisted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    pub administrations: Vec<Administration>,
    pub users: Vec<User>,
    pub oauth: OAuthStore,
    pub tokens: TokenSettings,
    pub rate_limit_per_minute: u32,
    pub posted: Vec<PostedDocument>,
    pub debtors: usize,
}

impl State {
    /// A freshly seeded state.
    pub fn seeded(debtors: usize, tokens: TokenSettings, rate_limit_per_minute: u32) -> Self {
        Self {
            format_version: STATE_FORMAT_VERSION,
            administrations: seed::administrations(debtors),
            users: seed::SEED_USERS.iter().map(seed_user).collect(),
            oauth: OAuthStore {
                next_grant_id: 1,
                ..OAuthStore::default()
            },
            tokens,
            rate_limit_per_minute,
            posted: Vec::new(),
            debtors,
        }
    }

    pub fn administration(&self, id: &str) -> Option<&Administration> {
        self.administrations
            .iter()
            .find(|administration| administration.id == id)
    }

    pub fn administration_mut(&mut self, id: &str) -> Option<&mut Administration> {
        self.administrations
            .iter_mut()
            .find(|administration| administration.id == id)
    }

    /// Finds a user; logins are e-mail addresses, so case does not matter.
    pub fn user(&self, login: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|user| user.login.eq_ignore_ascii_case(login.trim()))
    }

    pub fn user_mut(&mut self, login: &str) -> Option<&mut User> {
        self.users
            .iter_mut()
            .find(|user| user.login.eq_ignore_ascii_case(login.trim()))
    }
}

fn seed_user(seed_user: &seed::SeedUser) -> User {
    let rights = BUSINESS_OBJECTS
        .iter()
        .map(|object| {
            let writable = object.insertable && !seed_user.read_only;
            let rights = Rights {
                // Every seeded user can see every business object; whether it can be read over the API is the
                // object's own property (DJ2 is write-only, DJ2P read-only).
                read: true,
                insert: writable,
                // Debtors may be corrected by a full user; journal postings are never changed, only reversed.
                update: writable && object.code == "AR1",
                delete: false,
            };
            (object.code.to_owned(), rights)
        })
        .collect();
    User {
        login: seed_user.login.to_owned(),
        password: seed_user.password.to_owned(),
        display_name: seed_user.display_name.to_owned(),
        administrations: seed_user.administrations.iter().map(|id| (*id).to_owned()).collect(),
        rights,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("cannot read state file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("state file {path} is not a sandbox state: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error(
        "state file {path} has format {found}, this sandbox writes format {expected}; delete it or point --state-file elsewhere"
    )]
    Version { path: PathBuf, found: u32, expected: u32 },
    #[error("cannot write state file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot serialize the sandbox state: {0}")]
    Serialize(#[source] serde_json::Error),
}

/// Loads a state file, or `None` when there is none yet.
pub fn load_state_file(path: &Path) -> Result<Option<State>, StateFileError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateFileError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let state: State = serde_json::from_slice(&bytes).map_err(|source| StateFileError::Parse {
        path: path.to_owned(),
        source,
    })?;
    if state.format_version != STATE_FORMAT_VERSION {
        return Err(StateFileError::Version {
            path: path.to_owned(),
            found: state.format_version,
            expected: STATE_FORMAT_VERSION,
        });
    }
    Ok(Some(state))
}

/// Writes the state atomically: to a temporary file beside it, then renamed over it, so a crash mid-write
/// never leaves half a file. Callers serialize their writes (see [`Shared::save_state_file`]): two writers
/// sharing the temporary file would rename it from under each other.
fn write_state_file(path: &Path, bytes: &[u8]) -> Result<(), StateFileError> {
    let temporary = path.with_extension("tmp");
    let write_error = |source| StateFileError::Write {
        path: path.to_owned(),
        source,
    };
    std::fs::write(&temporary, bytes).map_err(write_error)?;
    std::fs::rename(&temporary, path).map_err(|source| StateFileError::Write {
        path: path.to_owned(),
        source,
    })
}

/// What every handler shares.
#[derive(Debug)]
pub struct Shared {
    pub config: SandboxConfig,
    pub clock: Clock,
    state: RwLock<State>,
    faults: Mutex<Faults>,
    limiter: Mutex<RateLimiter>,
    calls: Mutex<CallLog>,
    dirty: AtomicBool,
    /// Held from snapshot to rename, so the periodic writer and an explicit save never interleave and an
    /// older snapshot never lands after a newer one.
    file_writer: Mutex<()>,
}

impl Shared {
    pub fn new(config: SandboxConfig, state: State) -> Self {
        let burst = config.rate_limit_burst;
        Self {
            config,
            clock: Clock::default(),
            state: RwLock::new(state),
            faults: Mutex::new(Faults::default()),
            limiter: Mutex::new(RateLimiter::new(burst)),
            calls: Mutex::new(CallLog::default()),
            dirty: AtomicBool::new(false),
            file_writer: Mutex::new(()),
        }
    }

    /// Shared read access. A panic elsewhere while writing cannot leave the state half-changed in a way that
    /// matters more than refusing service would, so a poisoned lock is used as is.
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Exclusive access; marks the state as changed for the state-file writer.
    pub fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.dirty.store(true, Ordering::Release);
        self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn limiter(&self) -> MutexGuard<'_, RateLimiter> {
        self.limiter.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn calls(&self) -> MutexGuard<'_, CallLog> {
        self.calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes the state file when one is configured: always, or with `only_if_changed` only when the
    /// state changed since the last write. Answers the path and size written, or `None` when nothing was.
    /// Blocking: call it off the async workers.
    pub fn save_state_file(&self, only_if_changed: bool) -> Result<Option<(PathBuf, usize)>, StateFileError> {
        let Some(path) = self.state_file() else {
            return Ok(None);
        };
        let _writer = self.file_writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let changed = self.dirty.swap(false, Ordering::AcqRel);
        if only_if_changed && !changed {
            return Ok(None);
        }
        let bytes = serde_json::to_vec(&*self.read()).map_err(|error| {
            self.dirty.store(true, Ordering::Release);
            StateFileError::Serialize(error)
        })?;
        write_state_file(path, &bytes).inspect_err(|_| self.dirty.store(true, Ordering::Release))?;
        Ok(Some((path.to_owned(), bytes.len())))
    }

    pub fn state_file(&self) -> Option<&Path> {
        self.config.state_file.as_deref()
    }
}

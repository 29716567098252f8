//! The API's answers as types of their own: the list envelopes, and the platform's records
//! (users, administrations, licences, API tokens, the audit log). The wire shape is the web's
//! business, so the store's rows carry no `Serialize` and a change to a row cannot change an
//! answer by accident.
//!
//! Fields are declared in alphabetical order because that is the order these answers have always
//! had (they used to be built as JSON maps, which sort their keys); clients and the OpenAPI
//! snapshot see the same bytes.

use chrono::{DateTime, NaiveDate, Utc};
use koppel_domain::rights::Rights;
use koppel_store::platform::{Administration, ApiToken, AuditEntry, Licence, Membership, User};
use serde::Serialize;

/// `{"items": [...]}`.
#[derive(Debug, Serialize)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// A page of a list: `{"items": [...], "next_cursor": ...}`.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A set of rights: their names, in a fixed order.
#[derive(Debug, Serialize)]
pub struct RightsBody {
    pub rights: Vec<&'static str>,
}

impl From<Rights> for RightsBody {
    fn from(rights: Rights) -> RightsBody {
        RightsBody {
            rights: rights_names(rights),
        }
    }
}

fn rights_names(rights: Rights) -> Vec<&'static str> {
    rights.iter().map(|right| right.as_str()).collect()
}

/// A user; with the administrations they may access where the answer is about access.
#[derive(Debug, Serialize)]
pub struct UserBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub administrations: Option<Vec<AdministrationBody>>,
    pub created_at: DateTime<Utc>,
    pub email: String,
    pub id: i64,
    pub language: String,
    pub name: String,
}

impl From<&User> for UserBody {
    fn from(user: &User) -> UserBody {
        UserBody {
            administrations: None,
            created_at: user.created_at,
            email: user.email.clone(),
            id: user.id.0,
            language: user.language.clone(),
            name: user.name.clone(),
        }
    }
}

impl UserBody {
    /// The user with the administrations they may access and their rights there.
    pub fn with_access(user: &User, memberships: &[Membership]) -> UserBody {
        UserBody {
            administrations: Some(memberships.iter().map(AdministrationBody::from).collect()),
            ..UserBody::from(user)
        }
    }
}

/// An administration with the caller's (or the listed user's) rights in it.
#[derive(Debug, Serialize)]
pub struct AdministrationBody {
    pub created_at: DateTime<Utc>,
    pub environment_id: i64,
    pub id: i64,
    pub is_main: bool,
    pub name: String,
    pub rights: Vec<&'static str>,
}

impl AdministrationBody {
    pub fn new(administration: &Administration, rights: Rights) -> AdministrationBody {
        AdministrationBody {
            created_at: administration.created_at,
            environment_id: administration.environment_id.0,
            id: administration.id.0,
            is_main: administration.is_main,
            name: administration.name.clone(),
            rights: rights_names(rights),
        }
    }
}

impl From<&Membership> for AdministrationBody {
    fn from(membership: &Membership) -> AdministrationBody {
        AdministrationBody::new(&membership.administration, membership.rights)
    }
}

/// A power-up's licence, and whether it may be used today.
#[derive(Debug, Serialize)]
pub struct LicenceBody {
    pub capacity: i64,
    pub changed_at: DateTime<Utc>,
    pub power_up: &'static str,
    pub state: &'static str,
    /// A trial's last day; only trials have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    pub usable: bool,
}

impl LicenceBody {
    pub fn new(licence: &Licence, today: NaiveDate) -> LicenceBody {
        let until = match licence.state {
            koppel_domain::licence::LicenceState::Trial { until } => Some(until),
            koppel_domain::licence::LicenceState::Active | koppel_domain::licence::LicenceState::Inactive => None,
        };
        LicenceBody {
            capacity: licence.capacity,
            changed_at: licence.changed_at,
            power_up: licence.power_up.as_str(),
            state: licence.state.kind(),
            until,
            usable: licence.state.is_usable(today),
        }
    }
}

/// An API token, without its secret except in the answer that creates it.
#[derive(Debug, Serialize)]
pub struct ApiTokenBody {
    pub created_at: DateTime<Utc>,
    pub id: i64,
    pub last_used_at: Option<DateTime<Utc>>,
    pub name: String,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The secret, shown once when the token is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub user_id: i64,
}

impl From<&ApiToken> for ApiTokenBody {
    fn from(token: &ApiToken) -> ApiTokenBody {
        ApiTokenBody {
            created_at: token.created_at,
            id: token.id,
            last_used_at: token.last_used_at,
            name: token.name.clone(),
            revoked_at: token.revoked_at,
            token: None,
            user_id: token.user_id.0,
        }
    }
}

/// One administrative action of the audit log.
#[derive(Debug, Serialize)]
pub struct AuditEntryBody {
    pub action: String,
    pub administration_id: Option<i64>,
    pub at: DateTime<Utc>,
    pub detail: String,
    pub environment_id: i64,
    pub id: i64,
    pub user_id: Option<i64>,
}

impl From<&AuditEntry> for AuditEntryBody {
    fn from(entry: &AuditEntry) -> AuditEntryBody {
        AuditEntryBody {
            action: entry.action.clone(),
            administration_id: entry.administration_id,
            at: entry.at,
            detail: entry.detail.clone(),
            environment_id: entry.environment_id,
            id: entry.id,
            user_id: entry.user_id,
        }
    }
}

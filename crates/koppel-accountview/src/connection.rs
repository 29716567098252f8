//! Where an administration's connection stands, who may use the integration, and what users start
//! from it. The REST API and the back-office pages both call these, so a rule (when an import may
//! start, which codes a user chooses from) is written once.

use crate::import;
use crate::settings::{ImportCategory, Settings};
use crate::storage::{self, ChosenCompany, CodeEntry, CodeList, Connection, ConnectionStatus};
use crate::{AccountView, AccountViewError, export};
use koppel_domain::licence::PowerUp;
use koppel_domain::rights::Right;
use koppel_domain::{AdministrationId, UserId};
use koppel_jobs::Enqueued;
use koppel_store::StoreError;
use std::collections::HashMap;

/// The right a user needs in an administration to connect, configure and run the integration.
pub const REQUIRED_RIGHT: Right = Right::ManageIntegrations;

/// The licence (power-up) an environment needs for the integration.
pub const POWER_UP: PowerUp = PowerUp::Accountview;

/// What a page or the API says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// The operator has not configured `[accountview]`.
    NotConfigured,
    NotConnected,
    /// Signed in, no AccountView administration saved yet.
    Unsaved,
    Connected,
    AuthenticationExpired,
}

impl ConnectionState {
    /// The state of a configured integration's connection (or of its absence).
    pub fn of(connection: Option<&Connection>) -> ConnectionState {
        match connection {
            None => ConnectionState::NotConnected,
            Some(c) if c.status == ConnectionStatus::AuthenticationExpired => ConnectionState::AuthenticationExpired,
            Some(c) if c.saved_at.is_none() || c.company.is_none() => ConnectionState::Unsaved,
            Some(_) => ConnectionState::Connected,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ConnectionState::NotConfigured => "not_configured",
            ConnectionState::NotConnected => "not_connected",
            ConnectionState::Unsaved => "unsaved",
            ConnectionState::Connected => "connected",
            ConnectionState::AuthenticationExpired => "authentication_expired",
        }
    }
}

/// What a connection has saved: the settings a form starts from and a request without settings uses.
#[derive(Debug, Clone)]
pub struct SavedSettings {
    /// The chosen AccountView administration, once chosen.
    pub company: Option<ChosenCompany>,
    /// Saved once: the company cannot change without a disconnect.
    pub company_locked: bool,
    pub settings: Settings,
}

impl AccountView {
    /// The connection of an administration and where it stands.
    pub async fn state(
        &self,
        administration: AdministrationId,
    ) -> Result<(ConnectionState, Option<Connection>), AccountViewError> {
        let connection = self.connection(administration).await?;
        Ok((ConnectionState::of(connection.as_ref()), connection))
    }

    /// A connection that can sync: connected, consent valid, with a saved company; otherwise why not.
    pub async fn live_connection(&self, administration: AdministrationId) -> Result<Connection, AccountViewError> {
        match self.state(administration).await? {
            (ConnectionState::Connected, Some(connection)) => Ok(connection),
            (ConnectionState::AuthenticationExpired, _) => Err(AccountViewError::AuthenticationExpired),
            (ConnectionState::Unsaved, _) => Err(AccountViewError::NotConfigured),
            _ => Err(AccountViewError::NotConnected),
        }
    }

    /// The saved company and settings of a connection, connected or not (consent expired).
    pub async fn saved_settings(&self, administration: AdministrationId) -> Result<SavedSettings, AccountViewError> {
        let connection = self
            .connection(administration)
            .await?
            .ok_or(AccountViewError::NotConnected)?;
        Ok(SavedSettings {
            settings: Settings::of(&connection),
            company_locked: connection.saved_at.is_some(),
            company: connection.company,
        })
    }

    /// "Import now" by `user`: the given categories (none: every category that is on) as a background
    /// run, joining one that is queued or running. Needs a live connection.
    pub async fn start_import(
        &self,
        administration: AdministrationId,
        categories: Vec<ImportCategory>,
        user: UserId,
    ) -> Result<Enqueued, AccountViewError> {
        self.live_connection(administration).await?;
        Ok(import::enqueue(&self.store, administration, categories, Some(user)).await?)
    }

    /// "Export now" by `user` as a background run, joining one that is queued or running. Needs a
    /// live connection.
    pub async fn start_export(
        &self,
        administration: AdministrationId,
        user: UserId,
    ) -> Result<Enqueued, AccountViewError> {
        self.live_connection(administration).await?;
        Ok(export::enqueue(&self.store, administration, Some(user)).await?)
    }

    /// The imported code lists a user chooses from, each by code.
    pub async fn code_lists(
        &self,
        administration: AdministrationId,
    ) -> Result<HashMap<CodeList, Vec<CodeEntry>>, StoreError> {
        let mut lists = HashMap::new();
        for list in CodeList::ALL {
            lists.insert(list, storage::codes(&self.store, administration, list).await?);
        }
        Ok(lists)
    }
}

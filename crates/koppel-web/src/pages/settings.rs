//! The Settings overview, switching administration, and the gated entry pages of the features:
//! Software integrations and Data Sync (the AccountView page itself is `accountview.rs`).

use super::context::{Layout, Nav, id_or_not_found, safe_local_path};
use super::i18n::fill;
use super::path::{AdministrationPage, PagePath};
use super::{Context, PageError, Visitor, html, redirect};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use koppel_domain::AdministrationId;
use koppel_domain::licence::PowerUp;
use koppel_domain::rights::Right;
use std::collections::HashMap;

/// `GET /switch?to=ID&page=/settings/...`: the same page in another administration.
pub async fn switch(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let lang = visitor.lang;
    let to = id_or_not_found(query.get("to").map_or("", String::as_str), lang)?;
    let memberships = state.store.memberships(visitor.user.id).await?;
    if !memberships.iter().any(|m| m.administration.id == AdministrationId(to)) {
        return Err(PageError::NotFound(lang));
    }
    // Only the section is kept: a page about one item (a run, a user) of the old administration
    // has no meaning in the new one.
    let page = safe_local_path(query.get("page").map_or("/settings", String::as_str));
    let section = [
        "/settings/integrations/accountview",
        "/settings/integrations",
        "/settings/datasync",
        "/settings/administrations",
        "/settings/users",
        "/settings/licences",
        "/runs",
    ]
    .into_iter()
    .find(|section| page == *section || page.starts_with(&format!("{section}/")))
    .unwrap_or("/settings");
    Ok(redirect(&format!("/a/{to}{section}")))
}

/// `GET /a/{id}` (for a logged-in visitor; anyone else is sent to log in first).
pub async fn enter(_visitor: Visitor, PagePath(path): PagePath<AdministrationPage>) -> Result<Response, PageError> {
    Ok(redirect(&format!("/a/{}/settings", path.administration)))
}

/// One entry of the Settings overview: where it leads and whether it can be used here.
pub struct Section {
    pub id: &'static str,
    pub href: String,
    pub title: &'static str,
    /// What the section is for.
    pub text: &'static str,
    /// Why the visitor cannot use it here; empty when they can.
    pub blocked: Vec<String>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct OverviewPage {
    page: Layout,
    intro: String,
    sections: Vec<Section>,
}

pub async fn overview(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
) -> Result<Response, PageError> {
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    let base = context.base();
    let manage_on_main = || {
        context
            .need_right_on_main(Right::ManageAdministrations)
            .into_iter()
            .collect::<Vec<_>>()
    };
    let sections = vec![
        Section {
            id: "integrations",
            href: format!("{base}/settings/integrations"),
            title: m.nav_integrations,
            text: m.overview_integrations_text,
            // The only integration is AccountView: what blocks it blocks the section's use.
            blocked: accountview_gates(&context),
        },
        Section {
            id: "datasync",
            href: format!("{base}/settings/datasync"),
            title: m.nav_datasync,
            text: m.overview_datasync_text,
            blocked: datasync_gates(&context),
        },
        Section {
            id: "administrations",
            href: format!("{base}/settings/administrations"),
            title: m.nav_administrations,
            text: m.overview_administrations_text,
            blocked: super::administrations::gates(&context),
        },
        Section {
            id: "users",
            href: format!("{base}/settings/users"),
            title: m.nav_users,
            text: m.overview_users_text,
            blocked: manage_on_main(),
        },
        Section {
            id: "licences",
            href: format!("{base}/settings/licences"),
            title: m.nav_licences,
            text: m.overview_licences_text,
            blocked: manage_on_main(),
        },
        Section {
            id: "runs",
            href: format!("{base}/runs"),
            title: m.nav_runs,
            text: m.overview_runs_text,
            blocked: super::runs::gates(&context),
        },
    ];
    let page = OverviewPage {
        page: context.layout(Nav::Overview, m.nav_settings, "/settings"),
        intro: fill(m.settings_intro, &[&context.administration.name]),
        sections,
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// One software integration on the integrations page: a card with its state and "Open".
pub struct Integration {
    pub id: &'static str,
    pub title: &'static str,
    pub text: &'static str,
    pub href: String,
    /// Where its connection stands, in words.
    pub state: String,
    pub connected: bool,
    pub blocked: Vec<String>,
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct IntegrationsPage {
    page: Layout,
    integrations: Vec<Integration>,
}

/// `GET /a/{id}/settings/integrations`: Settings → General → Software integrations.
pub async fn integrations(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
) -> Result<Response, PageError> {
    use koppel_accountview::ConnectionState;
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    let (connection_state, connection) = match &state.accountview {
        Some(accountview) => accountview
            .state(context.administration.id)
            .await
            .map_err(|_| PageError::Internal)?,
        None => (ConnectionState::NotConfigured, None),
    };
    let company = connection
        .as_ref()
        .and_then(|c| c.company.as_ref())
        .map(|c| format!("{} – {}", c.code, c.name));
    let state_text = match (connection_state, company) {
        (ConnectionState::Connected, Some(company)) => fill(m.integration_connected_to, &[&company]),
        (ConnectionState::Connected, None) => m.integration_connected.to_string(),
        (ConnectionState::Unsaved, _) => m.integration_unsaved.to_string(),
        (ConnectionState::AuthenticationExpired, _) => m.integration_expired.to_string(),
        (ConnectionState::NotConnected, _) => m.integration_not_connected.to_string(),
        (ConnectionState::NotConfigured, _) => m.integration_not_configured.to_string(),
    };
    let accountview = Integration {
        id: "accountview",
        title: m.accountview_title,
        text: m.power_up_accountview_text,
        href: format!("{}/settings/integrations/accountview", context.base()),
        state: state_text,
        connected: connection_state == ConnectionState::Connected,
        blocked: accountview_gates(&context),
    };
    let page = IntegrationsPage {
        page: context.layout(Nav::Integrations, m.integrations_title, "/settings/integrations"),
        integrations: vec![accountview],
    };
    Ok(html(StatusCode::OK, page.render()))
}

pub fn accountview_gates(context: &Context) -> Vec<String> {
    [
        context.need_licence(koppel_accountview::POWER_UP),
        context.need_right(koppel_accountview::REQUIRED_RIGHT),
    ]
    .into_iter()
    .flatten()
    .collect()
}

pub fn datasync_gates(context: &Context) -> Vec<String> {
    [
        context.need_licence(PowerUp::PowerBi),
        context.need_right(Right::ManageDatasync),
    ]
    .into_iter()
    .flatten()
    .collect()
}

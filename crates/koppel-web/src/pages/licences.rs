//! The Licence Manager ("Licentie Manager"): the environment's power-ups with their state;
//! activating and deactivating (there is no payment step; the store records who did it in the
//! audit log). Deactivating goes through a confirmation that says what stops.

use super::confirm::Confirmation;
use super::context::{Layout, Nav, form, power_up_name};
use super::i18n::fill;
use super::path::{AdministrationPage, LicencePage, PagePath};
use super::{Context, Flash, FormData, PageError, Visitor, html, redirect_with_flash_about};
use crate::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use koppel_domain::licence::{LicenceState, PowerUp};
use koppel_domain::rights::Right;
use koppel_store::platform::Actor;

const PATH: &str = "/settings/licences";

fn gates(context: &Context) -> Vec<String> {
    context
        .need_right_on_main(Right::ManageAdministrations)
        .into_iter()
        .collect()
}

/// A power-up's state in words: "Proefperiode tot en met 22-11-2026", "Actief", "Niet actief".
pub fn state_text(context: &Context, power_up: PowerUp) -> String {
    let m = context.m();
    match context.licence(power_up).map(|l| l.state) {
        Some(LicenceState::Trial { until }) if until >= context.today => {
            fill(m.state_trial, &[&context.lang().date(until)])
        }
        Some(LicenceState::Trial { until }) => fill(m.state_trial_over, &[&context.lang().date(until)]),
        Some(LicenceState::Active) => m.state_active.to_string(),
        Some(LicenceState::Inactive) | None => m.state_inactive.to_string(),
    }
}

pub struct LicenceRow {
    pub code: &'static str,
    pub name: &'static str,
    pub text: &'static str,
    pub state: String,
    pub usable: bool,
    pub capacity: Option<String>,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "licences.html")]
struct ListPage {
    page: Layout,
    rows: Vec<LicenceRow>,
}

pub async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
) -> Result<Response, PageError> {
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    context.require(Nav::Licences, m.licences_title, PATH, gates(&context))?;
    let rows = PowerUp::ALL
        .into_iter()
        .map(|power_up| {
            let licence = context.licence(power_up);
            LicenceRow {
                code: power_up.as_str(),
                name: power_up_name(m, power_up),
                text: match power_up {
                    PowerUp::PowerBi => m.power_up_power_bi_text,
                    PowerUp::SubAdministrations => m.power_up_sub_administrations_text,
                    PowerUp::Accountview => m.power_up_accountview_text,
                },
                state: state_text(&context, power_up),
                usable: licence.is_some_and(|l| l.state.is_usable(context.today)),
                capacity: (power_up == PowerUp::SubAdministrations)
                    .then(|| fill(m.licence_capacity, &[&licence.map_or(0, |l| l.capacity).to_string()])),
                active: licence.is_some_and(|l| l.state == LicenceState::Active),
            }
        })
        .collect();
    let page = ListPage {
        page: context.layout(Nav::Licences, m.licences_title, PATH),
        rows,
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// `GET …/settings/licences/{power_up}/deactivate`: what stops when the power-up is deactivated.
pub async fn confirm_deactivate(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<LicencePage>,
) -> Result<Response, PageError> {
    let lang = visitor.lang;
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    context.require(Nav::Licences, m.licences_title, PATH, gates(&context))?;
    let power_up = PowerUp::parse(&path.power_up).ok_or(PageError::NotFound(lang))?;
    let base = context.base();
    let stops = match power_up {
        PowerUp::PowerBi => m.licence_deactivate_power_bi,
        PowerUp::SubAdministrations => m.licence_deactivate_sub_administrations,
        PowerUp::Accountview => m.licence_deactivate_accountview,
    };
    Ok(Confirmation {
        page: context.layout(
            Nav::Licences,
            &fill(m.licence_deactivate_title, &[power_up_name(m, power_up)]),
            PATH,
        ),
        paragraphs: vec![stops.to_string(), m.licence_deactivate_no_data.to_string()],
        action: format!("{base}{PATH}/{}", power_up.as_str()),
        hidden: vec![("state", "inactive".to_string())],
        confirm: m.licence_deactivate_confirm.to_string(),
        cancel: format!("{base}{PATH}"),
    }
    .render())
}

/// `POST …/settings/licences/{power_up}` with `state=active|inactive`.
pub async fn change(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<LicencePage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = visitor.lang;
    let data = form(body, &visitor)?;
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    context.require(Nav::Licences, m.licences_title, PATH, gates(&context))?;
    let power_up = PowerUp::parse(&path.power_up).ok_or(PageError::NotFound(lang))?;
    let (new_state, flash) = match data.get("state") {
        Some("active") => (LicenceState::Active, Flash::LicenceActivated),
        Some("inactive") => (LicenceState::Inactive, Flash::LicenceDeactivated),
        _ => return Err(PageError::FormExpired(lang)),
    };
    let capacity = context.licence(power_up).map_or(0, |l| l.capacity);
    state
        .store
        .set_licence(
            context.administration.environment_id,
            power_up,
            new_state,
            capacity,
            Actor(Some(context.visitor.user.id)),
        )
        .await?;
    Ok(redirect_with_flash_about(
        &format!("{}{PATH}", context.base()),
        flash,
        power_up_name(m, power_up),
    ))
}

//! The Administrations page of the main administration: the main and its subs, creating a sub
//! within the licensed capacity, and deleting a sub after a warning and a typed confirmation.

use super::context::{Layout, Nav, form};
use super::i18n::fill;
use super::path::{AdministrationPage, PagePath, TargetPage};
use super::{Context, Flash, FormData, PageError, Visitor, html, redirect_with_flash, redirect_with_flash_about};
use crate::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use koppel_domain::AdministrationId;
use koppel_domain::licence::{LicenceError, PowerUp};
use koppel_domain::rights::{Right, Rights};
use koppel_store::StoreError;
use koppel_store::platform::{Actor, Administration, NewAdministration};

const PATH: &str = "/settings/administrations";

/// Why the page cannot be used here, if it cannot.
pub fn gates(context: &Context) -> Vec<String> {
    [context.need_main(), context.need_right(Right::ManageAdministrations)]
        .into_iter()
        .flatten()
        .collect()
}

/// One row of the list.
pub struct Row {
    pub administration: Administration,
    pub created: String,
    pub menu_label: String,
}

#[derive(Template)]
#[template(path = "administrations.html")]
struct ListPage {
    page: Layout,
    rows: Vec<Row>,
    capacity_text: String,
    /// Why "Create administration" is disabled, when it is.
    create_blocked: Option<String>,
    name: String,
    error: Option<String>,
}

async fn render_list(
    state: &AppState,
    context: &Context,
    name: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let m = context.m();
    let administrations = state
        .store
        .administrations(context.administration.environment_id)
        .await?;
    let subs = administrations.iter().filter(|a| !a.is_main).count();
    let licence = context.licence(PowerUp::SubAdministrations);
    let capacity = licence.map_or(0, |l| l.capacity);
    let create_blocked = if context.need_licence(PowerUp::SubAdministrations).is_some() {
        Some(m.create_no_licence.to_string())
    } else if subs as i64 >= capacity {
        Some(fill(m.create_full, &[&context.lang().number(capacity)]))
    } else {
        None
    };
    let rows = administrations
        .into_iter()
        .map(|administration| Row {
            created: context.lang().date(super::i18n::local_date(administration.created_at)),
            menu_label: fill(m.actions_menu, &[&administration.name]),
            administration,
        })
        .collect();
    let page = ListPage {
        page: context.layout(Nav::Administrations, m.administrations_title, PATH),
        rows,
        capacity_text: fill(
            m.capacity_used,
            &[&context.lang().number(subs as i64), &context.lang().number(capacity)],
        ),
        create_blocked,
        name: name.to_string(),
        error,
    };
    Ok(html(status, page.render()))
}

pub async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
) -> Result<Response, PageError> {
    let context = Context::enter(&state, visitor, path.administration).await?;
    context.require(
        Nav::Administrations,
        context.m().administrations_title,
        PATH,
        gates(&context),
    )?;
    render_list(&state, &context, "", None, StatusCode::OK).await
}

pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    let data = form(body, &visitor)?;
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    context.require(Nav::Administrations, m.administrations_title, PATH, gates(&context))?;
    let name = data.get("name").unwrap_or("").trim().to_string();
    let actor = Actor(Some(context.visitor.user.id));
    let new = NewAdministration {
        environment: context.administration.environment_id,
        name: &name,
        is_main: false,
    };
    let error = match state.store.create_administration(new, actor).await {
        Ok(created) => {
            // The creator can work in the new sub straight away.
            state
                .store
                .set_rights(context.visitor.user.id, created.id, Rights::all(), actor)
                .await?;
            return Ok(redirect_with_flash_about(
                &format!("{}{PATH}", context.base()),
                Flash::CreatedAdministration,
                &created.name,
            ));
        }
        Err(StoreError::Invalid(_)) => m.name_required.to_string(),
        Err(StoreError::Conflict { .. }) => fill(m.name_taken, &[&name]),
        Err(StoreError::Licence(LicenceError::CapacityReached { capacity })) => {
            fill(m.create_full, &[&context.lang().number(capacity)])
        }
        Err(StoreError::Licence(_)) => m.create_no_licence.to_string(),
        Err(other) => return Err(other.into()),
    };
    render_list(&state, &context, &name, Some(error), StatusCode::UNPROCESSABLE_ENTITY).await
}

#[derive(Template)]
#[template(path = "administration_delete.html")]
struct DeletePage {
    page: Layout,
    target: Administration,
    warning: String,
    error: Option<String>,
}

/// The sub to delete: in the visitor's environment, and not the main.
async fn deletable(state: &AppState, context: &Context, target: AdministrationId) -> Result<Administration, PageError> {
    let lang = context.lang();
    let found = state
        .store
        .administration(target)
        .await
        .ok()
        .filter(|a| a.environment_id == context.administration.environment_id)
        .ok_or(PageError::NotFound(lang))?;
    Ok(found)
}

fn delete_page(context: &Context, target: Administration, error: Option<String>, status: StatusCode) -> Response {
    let m = context.m();
    let page = DeletePage {
        page: context.layout(Nav::Administrations, &fill(m.delete_title, &[&target.name]), PATH),
        warning: fill(m.delete_warning, &[&target.name]),
        target,
        error,
    };
    html(status, page.render())
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<TargetPage>,
) -> Result<Response, PageError> {
    let context = Context::enter(&state, visitor, path.administration).await?;
    context.require(
        Nav::Administrations,
        context.m().administrations_title,
        PATH,
        gates(&context),
    )?;
    let target = deletable(&state, &context, path.target).await?;
    if target.is_main {
        return Ok(redirect_with_flash(
            &format!("{}{PATH}", context.base()),
            Flash::MainNotDeletable,
        ));
    }
    Ok(delete_page(&context, target, None, StatusCode::OK))
}

pub async fn delete(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<TargetPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    let data = form(body, &visitor)?;
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    context.require(Nav::Administrations, m.administrations_title, PATH, gates(&context))?;
    let target = deletable(&state, &context, path.target).await?;
    let list = format!("{}{PATH}", context.base());
    if target.is_main {
        return Ok(redirect_with_flash(&list, Flash::MainNotDeletable));
    }
    if data.get("confirm").map(str::trim) != Some(target.name.as_str()) {
        let error = fill(m.delete_mismatch, &[&target.name]);
        return Ok(delete_page(
            &context,
            target,
            Some(error),
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    state
        .store
        .delete_administration(target.id, Actor(Some(context.visitor.user.id)))
        .await?;
    Ok(redirect_with_flash_about(
        &list,
        Flash::DeletedAdministration,
        &target.name,
    ))
}

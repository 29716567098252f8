//! Users and rights: who has access to the current administration with which rights, adding users,
//! and granting or revoking rights and access per administration. Managed from the main
//! administration's `manage_administrations` right, like the REST API.

use super::context::{Layout, Nav, form, right_name};
use super::i18n::{Lang, fill};
use super::path::{AdministrationPage, PagePath, UserPage};
use super::{Context, Flash, FormData, PageError, Visitor, html, redirect_with_flash_about};
use crate::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use koppel_domain::rights::{Right, Rights};
use koppel_domain::{AdministrationId, UserId};
use koppel_store::StoreError;
use koppel_store::platform::{Actor, Administration, NewUser, User};

const PATH: &str = "/settings/users";

fn gates(context: &Context) -> Vec<String> {
    context
        .need_right_on_main(Right::ManageAdministrations)
        .into_iter()
        .collect()
}

/// A user with their rights in the current administration, as names.
pub struct UserRow {
    pub user: User,
    pub rights: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct ListPage {
    page: Layout,
    intro: String,
    with_access: Vec<UserRow>,
    without_access: Vec<User>,
    form_name: String,
    form_email: String,
    error: Option<String>,
}

async fn render_list(
    state: &AppState,
    context: &Context,
    form_values: (&str, &str),
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let m = context.m();
    let mut with_access = Vec::new();
    let mut without_access = Vec::new();
    for user in state.store.users(context.administration.environment_id).await? {
        match state.store.rights(user.id, context.administration.id).await? {
            Some(rights) => with_access.push(UserRow {
                rights: rights.iter().map(|r| right_name(m, r)).collect(),
                user,
            }),
            None => without_access.push(user),
        }
    }
    let page = ListPage {
        page: context.layout(Nav::Users, m.users_title, PATH),
        intro: fill(m.users_intro, &[&context.administration.name]),
        with_access,
        without_access,
        form_name: form_values.0.to_string(),
        form_email: form_values.1.to_string(),
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
    context.require(Nav::Users, context.m().users_title, PATH, gates(&context))?;
    render_list(&state, &context, ("", ""), None, StatusCode::OK).await
}

/// `POST …/settings/users`: adds a user (without access; rights are given next).
pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    let data = form(body, &visitor)?;
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    context.require(Nav::Users, m.users_title, PATH, gates(&context))?;
    let name = data.get("name").unwrap_or("").trim();
    let email = data.get("email").unwrap_or("").trim();
    let password = data.get("password").unwrap_or("");
    let language = Lang::parse(data.get("language").unwrap_or("nl"));
    let created = state
        .store
        .create_user(NewUser {
            environment: context.administration.environment_id,
            email,
            name,
            password,
            language: language.code(),
        })
        .await;
    let error = match created {
        Ok(user) => {
            state
                .store
                .record_audit(
                    context.administration.environment_id,
                    None,
                    Actor(Some(context.visitor.user.id)),
                    "user.create",
                    &user.email,
                )
                .await?;
            return Ok(redirect_with_flash_about(
                &format!("{}{PATH}/{}", context.base(), user.id),
                Flash::UserCreated,
                &user.name,
            ));
        }
        Err(StoreError::Conflict { .. }) => fill(m.user_email_taken, &[email]),
        Err(StoreError::Invalid(fields)) => {
            let problems: Vec<String> = fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
            fill(m.user_invalid, &[&problems.join("; ")])
        }
        Err(other) => return Err(other.into()),
    };
    render_list(
        &state,
        &context,
        (name, email),
        Some(error),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// One administration's row of checkboxes on the rights page.
pub struct RightsRow {
    pub administration: Administration,
    pub boxes: Vec<RightBox>,
}

pub struct RightBox {
    pub name: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "user_rights.html")]
struct RightsPage {
    page: Layout,
    target: User,
    intro: String,
    rows: Vec<RightsRow>,
    error: Option<String>,
}

async fn target_user(state: &AppState, context: &Context, id: UserId) -> Result<User, PageError> {
    let lang = context.lang();
    state
        .store
        .user(id)
        .await
        .ok()
        .filter(|u| u.environment_id == context.administration.environment_id)
        .ok_or(PageError::NotFound(lang))
}

async fn render_rights(
    state: &AppState,
    context: &Context,
    target: User,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let m = context.m();
    let mut rows = Vec::new();
    for administration in state
        .store
        .administrations(context.administration.environment_id)
        .await?
    {
        let rights = state
            .store
            .rights(target.id, administration.id)
            .await?
            .unwrap_or_default();
        rows.push(RightsRow {
            boxes: Right::ALL
                .into_iter()
                .map(|right| RightBox {
                    name: right.as_str(),
                    label: right_name(m, right),
                    checked: rights.has(right),
                })
                .collect(),
            administration,
        });
    }
    let page = RightsPage {
        page: context.layout(Nav::Users, &fill(m.user_rights_title, &[&target.name]), PATH),
        intro: fill(m.user_rights_intro, &[&target.name]),
        target,
        rows,
        error,
    };
    Ok(html(status, page.render()))
}

pub async fn edit(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<UserPage>,
) -> Result<Response, PageError> {
    let context = Context::enter(&state, visitor, path.administration).await?;
    context.require(Nav::Users, context.m().users_title, PATH, gates(&context))?;
    let target = target_user(&state, &context, path.user).await?;
    render_rights(&state, &context, target, None, StatusCode::OK).await
}

/// `POST …/settings/users/{user}`: checkboxes named `rights-{administration}` with right names.
pub async fn save(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<UserPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    let data = form(body, &visitor)?;
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    context.require(Nav::Users, m.users_title, PATH, gates(&context))?;
    let target = target_user(&state, &context, path.user).await?;
    let administrations = state
        .store
        .administrations(context.administration.environment_id)
        .await?;
    let mut wanted: Vec<(AdministrationId, Rights)> = Vec::new();
    for administration in &administrations {
        let field = format!("rights-{}", administration.id);
        let rights: Rights = data.all(&field).filter_map(Right::parse).collect();
        wanted.push((administration.id, rights));
    }
    // Nobody locks themselves out of managing the environment.
    let self_lockout = target.id == context.visitor.user.id
        && wanted
            .iter()
            .any(|(id, rights)| *id == context.main.id && !rights.has(Right::ManageAdministrations));
    if self_lockout {
        let error = Some(m.rights_self_lockout.to_string());
        return render_rights(&state, &context, target, error, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let actor = Actor(Some(context.visitor.user.id));
    for (administration, rights) in wanted {
        let current = state.store.rights(target.id, administration).await?.unwrap_or_default();
        if current != rights {
            match state.store.set_rights(target.id, administration, rights, actor).await {
                Ok(()) => {}
                // The store refuses to leave the environment without a manager.
                Err(StoreError::Conflict {
                    code: "last_manager", ..
                }) => {
                    let error = Some(fill(m.rights_last_manager, &[&target.name]));
                    return render_rights(&state, &context, target, error, StatusCode::CONFLICT).await;
                }
                Err(other) => return Err(other.into()),
            }
        }
    }
    Ok(redirect_with_flash_about(
        &format!("{}{PATH}", context.base()),
        Flash::RightsSaved,
        &target.name,
    ))
}

//! The confirmation page every destructive action goes through first: a GET that says what will
//! happen, with a danger button that POSTs the action and a link back. It works without JavaScript.

use super::context::{Layout, Nav};
use super::html;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

/// What one confirmation page shows and where its button posts.
pub struct Confirmation {
    pub page: Layout,
    /// What will happen, one paragraph each; the first is shown as the warning.
    pub paragraphs: Vec<String>,
    /// The address the danger button posts to.
    pub action: String,
    /// Hidden fields the action needs besides the CSRF token.
    pub hidden: Vec<(&'static str, String)>,
    /// The danger button's words ("Ja, token intrekken").
    pub confirm: String,
    /// Where "Annuleren" leads: the page the action was started from.
    pub cancel: String,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    page: Layout,
    paragraphs: Vec<String>,
    action: String,
    hidden: Vec<(&'static str, String)>,
    confirm: String,
    cancel: String,
}

impl Confirmation {
    pub fn render(self) -> Response {
        let page = ConfirmPage {
            page: self.page,
            paragraphs: self.paragraphs,
            action: self.action,
            hidden: self.hidden,
            confirm: self.confirm,
            cancel: self.cancel,
        };
        html(StatusCode::OK, page.render())
    }
}

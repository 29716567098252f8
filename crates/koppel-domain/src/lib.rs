//! Koppel's domain: the types and rules of the platform, with no IO, no SQL and no HTTP.
//!
//! Everything that decides whether a value or a change is valid lives here, so the store and the web
//! layer only move data that has already been parsed into these types.

pub mod ids;
pub mod invoice;
pub mod licence;
pub mod money;
pub mod record;
pub mod resources;
pub mod rights;
pub mod rules;
pub mod settings;
pub mod work_order;

pub use ids::{AdministrationId, Code, EnvironmentId, RecordId, UserId};
pub use money::{Money, Quantity, VatRate};

//! Which daily data uses a settings code: asked before a settings item would be removed, so the
//! removal can be refused before it is tried (daily data refers to settings by code, never by id).

use crate::sql::on_tx;
use crate::{Result, Tx};
use koppel_domain::AdministrationId;
use koppel_domain::record::{Area, FieldKind, ResourceSpec};
use koppel_domain::resources;
use sqlx::AssertSqlSafe;

impl Tx {
    /// The daily-data resources of an administration that refer to a settings item by its code
    /// (work orders of a work type, hour lines of an hour type), as their specs.
    pub async fn daily_users_of_code(
        &mut self,
        administration: AdministrationId,
        spec: &ResourceSpec,
        code: &str,
    ) -> Result<Vec<&'static ResourceSpec>> {
        let mut users = Vec::new();
        for other in resources::ALL.iter().filter(|s| s.area == Area::Daily) {
            for field in other.fields {
                if field.kind != FieldKind::CodeRef(spec.slug) {
                    continue;
                }
                let statement = format!(
                    "SELECT 1 FROM {} WHERE administration_id = $1 AND {} = $2 LIMIT 1",
                    other.table, field.name
                );
                let found: Option<i32> = on_tx!(self, conn => sqlx::query_scalar(AssertSqlSafe(statement))
                    .bind(administration.0)
                    .bind(code.to_string())
                    .fetch_optional(conn)
                    .await)?;
                if found.is_some() && !users.iter().any(|u: &&ResourceSpec| u.slug == other.slug) {
                    users.push(*other);
                }
            }
        }
        Ok(users)
    }
}

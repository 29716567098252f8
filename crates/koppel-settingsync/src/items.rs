//! The run's result per settings item of one target, written together.
//!
//! A first sync to a hundred empty subs has a hundred thousand item results; recorded one at a time
//! (`JobContext::item`, one statement and on SQLite one write transaction each) they took longer than
//! applying the settings. Here one target's results go in a few multi-row statements, each row
//! exactly what `koppel_jobs::runs::record_item` writes for it (same key clipping, same replacement
//! of an earlier attempt's result under the same key). When the jobs crate offers a batch form of
//! `record_item`, this module should give way to it.

use koppel_jobs::RunId;
use koppel_jobs::runs::{ItemStatus, RunMessage};
use koppel_store::sql::AssertSqlSafe;
use koppel_store::{Store, StoreError, on_pool};
use std::fmt::Write;

/// Rows per statement: three bind parameters each, far under both backends' limits.
const ROWS_PER_STATEMENT: usize = 500;
/// The longest key `record_item` keeps.
const MAX_KEY_CHARS: usize = 500;

/// Records succeeded items of `run`, each with its key and message.
pub(crate) async fn record_succeeded(
    store: &Store,
    run: RunId,
    items: &[(String, RunMessage)],
) -> Result<(), StoreError> {
    let now = store.now();
    for chunk in items.chunks(ROWS_PER_STATEMENT) {
        let mut values = String::new();
        for row in 0..chunk.len() {
            let first = 4 + row * 3;
            let _ = write!(
                values,
                "{}(${first}, ${}, ${})",
                if row == 0 { "" } else { ", " },
                first + 1,
                first + 2
            );
        }
        // `WHERE` before `ON CONFLICT` also tells SQLite's parser where the SELECT ends.
        let statement = format!(
            "INSERT INTO run_items (run_id, administration_id, item_key, status, message_nl, message_en, at) \
             SELECT runs.id, runs.administration_id, v.column1, $2, v.column2, v.column3, $3 \
             FROM runs, (VALUES {values}) AS v WHERE runs.id = $1 \
             ON CONFLICT (run_id, item_key) DO UPDATE SET status = excluded.status, \
             message_nl = excluded.message_nl, message_en = excluded.message_en, detail = NULL, at = excluded.at"
        );
        let inserted = on_pool!(store.pool(), pool => {
            let mut query = sqlx::query(AssertSqlSafe(statement))
                .persistent(false)
                .bind(run.0)
                .bind(ItemStatus::Succeeded.as_str())
                .bind(now);
            for (key, message) in chunk {
                query = query.bind(clip(key)).bind(message.nl.clone()).bind(message.en.clone());
            }
            query.execute(pool).await.map(|r| r.rows_affected())
        })?;
        if inserted == 0 {
            return Err(StoreError::NotFound);
        }
    }
    Ok(())
}

/// The key as `record_item` stores it: at most [`MAX_KEY_CHARS`] characters, then an ellipsis.
fn clip(key: &str) -> String {
    match key.char_indices().nth(MAX_KEY_CHARS) {
        Some((end, _)) => format!("{}…", &key[..end]),
        None => key.to_string(),
    }
}

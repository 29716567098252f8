//! What the AccountView integration keeps in Koppel's database, with its own queries (written once
//! for both backends with the store's SQL toolkit, [`koppel_store::sql`]); the tables themselves are
//! the store's migrations (0006).
//!
//! - [`connections`]: one connection per administration, the OAuth states of sign-ins in progress,
//!   and the token bookkeeping of the single-flight refresh.
//! - [`codes`]: the code lists imported from AccountView and the import cursors.
//! - [`exports`]: the export ledger that makes exports exactly-once.
//!
//! Every function takes the [`koppel_store::Store`] (or a transaction of it) and answers in the
//! store's [`koppel_store::Result`].

pub mod codes;
pub mod connections;
pub mod exports;

pub use codes::{
    CodeEntry, CodeList, ImportCursor, codes, codes_in, cursor, set_cursor, set_cursor_in, upsert_codes,
    upsert_codes_in,
};
pub use connections::{
    ChosenCompany, Connection, ConnectionStatus, OAuthState, StoredTokens, active_connections, claim_refresh, connect,
    connection, create_oauth_state, disconnect, expire_access, mark_expired, release_refresh, save, store_refreshed,
    take_oauth_state,
};
pub use exports::{
    Candidates, ExportRecord, ExportState, ExportTarget, count_export_candidates, export, export_candidates,
    export_done, export_failed, export_posting, exported, open_export,
};

//! Settings sync through the crate's public surface, on SQLite always and on PostgreSQL when
//! `KOPPEL_TEST_DATABASE_URL` is set.

mod sync;

-- Data Sync writes a full sync in many short transactions (so other writers are not held up), and
-- commits it with a last short one. pending_sync is the sync whose versions are being written; when it
-- is ahead of current_sync, an attempt died part-way and its invisible versions are still there: the
-- next sync is a full one and replaces them.
ALTER TABLE datasync_state ADD COLUMN pending_sync BIGINT NOT NULL DEFAULT 0;

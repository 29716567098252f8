-- A full sync no longer closes every current version before writing its own: it writes a new
-- generation, and readers of a sync see only the versions written at or after that sync's base, the
-- latest full sync at or before it. base_sync 0 (every sync before this migration) keeps the old rule,
-- under which a full sync closed what it replaced. Old generations go when pruned.
ALTER TABLE datasync_syncs ADD COLUMN base_sync BIGINT NOT NULL DEFAULT 0;

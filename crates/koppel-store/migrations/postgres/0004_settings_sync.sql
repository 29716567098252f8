-- Settings sync: when each sub last received settings from its main (koppel_store::settings_sync).
-- Written in the same transaction as the settings it received, so it never claims a sync that did
-- not happen.
CREATE TABLE settings_sync_targets (
    source_id BIGINT NOT NULL REFERENCES administrations(id),
    target_id BIGINT NOT NULL REFERENCES administrations(id) ON DELETE CASCADE,
    last_synced_at TIMESTAMPTZ NOT NULL,
    run_id BIGINT NOT NULL,
    PRIMARY KEY (source_id, target_id)
);

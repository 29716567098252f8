-- The platform: environments, administrations, licences, users, rights, tokens, sessions, audit log,
-- and the per-administration change counter that orders every write for change tracking.

CREATE TABLE environments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created_at DATETIME NOT NULL
);

CREATE TABLE administrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    environment_id BIGINT NOT NULL REFERENCES environments(id),
    name TEXT NOT NULL,
    is_main BOOLEAN NOT NULL,
    created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX administrations_one_main ON administrations (environment_id) WHERE is_main;
CREATE UNIQUE INDEX administrations_unique_name ON administrations (environment_id, name);

-- One row per administration. A write transaction increments `position` first and keeps the row
-- locked until it commits, so positions are handed out in commit order per administration.
CREATE TABLE change_counters (
    administration_id BIGINT PRIMARY KEY REFERENCES administrations(id),
    position BIGINT NOT NULL
);

CREATE TABLE tombstones (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    resource TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    change_seq BIGINT NOT NULL,
    deleted_at DATETIME NOT NULL
);
CREATE INDEX tombstones_changes ON tombstones (administration_id, change_seq);

CREATE TABLE number_sequences (
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    name TEXT NOT NULL,
    next_value BIGINT NOT NULL,
    PRIMARY KEY (administration_id, name)
);

CREATE TABLE licences (
    environment_id BIGINT NOT NULL REFERENCES environments(id),
    power_up TEXT NOT NULL,
    state TEXT NOT NULL,
    trial_until DATE,
    capacity BIGINT NOT NULL DEFAULT 0,
    changed_at DATETIME NOT NULL,
    PRIMARY KEY (environment_id, power_up)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    environment_id BIGINT NOT NULL REFERENCES environments(id),
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT 'nl',
    created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX users_unique_email ON users (email);

CREATE TABLE memberships (
    user_id BIGINT NOT NULL REFERENCES users(id),
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    rights BIGINT NOT NULL,
    PRIMARY KEY (user_id, administration_id)
);
CREATE INDEX memberships_by_administration ON memberships (administration_id);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    last_used_at DATETIME,
    revoked_at DATETIME
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX sessions_hash ON sessions (token_hash);

-- Administrative actions. administration_id has no foreign key: the trail outlives a deleted sub.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    environment_id BIGINT NOT NULL REFERENCES environments(id),
    administration_id BIGINT,
    user_id BIGINT,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    at DATETIME NOT NULL
);
CREATE INDEX audit_log_by_environment ON audit_log (environment_id, id);

-- Login throttling (koppel_store::logins): failed logins counted per client address, per e-mail
-- address, and per e-mail address from one client address, in the database so the limits survive
-- a restart and hold on every node. A key is the SHA-256 of `scope:value`, so neither the e-mail
-- addresses people typed nor their client addresses are stored. Rows are forgotten an hour after
-- their last failure.
CREATE TABLE login_attempts (
    key_hash TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_failure_at DATETIME NOT NULL
);
CREATE INDEX login_attempts_last_failure ON login_attempts (last_failure_at);

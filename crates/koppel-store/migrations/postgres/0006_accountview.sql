-- AccountView integration (koppel_store::accountview): one connection per administration, the OAuth
-- states of sign-ins in progress, the code lists imported from AccountView, the import cursors, and
-- the export ledger that makes the export of each work order happen exactly once.

-- A connection. Tokens are AES-GCM encrypted by koppel-accountview before they get here.
-- `token_version` is the compare-and-set token of a refresh; `refresh_lease_until` makes a refresh
-- single-flight across nodes. The chosen AccountView company is locked once `saved_at` is set.
CREATE TABLE accountview_connections (
    administration_id BIGINT PRIMARY KEY REFERENCES administrations(id),
    status TEXT NOT NULL,
    connected_by BIGINT,
    connected_at TIMESTAMPTZ NOT NULL,
    access_token TEXT,
    access_expires_at TIMESTAMPTZ,
    refresh_token TEXT,
    token_version BIGINT NOT NULL DEFAULT 0,
    refresh_lease_until TIMESTAMPTZ,
    company_id TEXT,
    company_code TEXT,
    company_name TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    saved_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Sign-ins in progress: the hash of the `state`, bound to user and administration, single use.
CREATE TABLE accountview_oauth_states (
    state_hash TEXT PRIMARY KEY,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    user_id BIGINT NOT NULL,
    code_verifier TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE accountview_vat_codes (
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    percentage TEXT NOT NULL,
    reverse_charge BOOLEAN NOT NULL,
    blocked BOOLEAN NOT NULL,
    PRIMARY KEY (administration_id, code)
);

CREATE TABLE accountview_ledger_accounts (
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    revenue BOOLEAN NOT NULL,
    blocked BOOLEAN NOT NULL,
    PRIMARY KEY (administration_id, code)
);

CREATE TABLE accountview_journals (
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    journal_type TEXT NOT NULL,
    blocked BOOLEAN NOT NULL,
    PRIMARY KEY (administration_id, code)
);

CREATE TABLE accountview_cost_centres (
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    blocked BOOLEAN NOT NULL,
    PRIMARY KEY (administration_id, code)
);

CREATE TABLE accountview_article_groups (
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (administration_id, code)
);

-- Per import category: the newest CNG_DATE seen, and the `lastKey` of a run that was interrupted.
CREATE TABLE accountview_cursors (
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    category TEXT NOT NULL,
    changed_since TEXT,
    last_key TEXT,
    PRIMARY KEY (administration_id, category)
);

-- The export ledger: one row per work order, written (state 'intent') before its invoice is posted.
-- It outlives the connection, so reconnecting never exports a work order again.
CREATE TABLE accountview_exports (
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    work_order_id BIGINT NOT NULL,
    invoice_id BIGINT NOT NULL,
    invoice_number TEXT NOT NULL,
    company_id TEXT NOT NULL,
    state TEXT NOT NULL,
    total_excl_vat BIGINT NOT NULL,
    total_vat BIGINT NOT NULL,
    post_attempts BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    exported_at TIMESTAMPTZ,
    PRIMARY KEY (administration_id, work_order_id)
);
CREATE UNIQUE INDEX accountview_exports_invoice_number ON accountview_exports (administration_id, invoice_number);

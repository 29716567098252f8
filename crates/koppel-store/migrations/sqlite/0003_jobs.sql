-- Background jobs, their schedules and the run history every job writes (koppel_store::queue and
-- koppel_store::runs). The SQLite and PostgreSQL files differ only in id and timestamp types.

-- The queue. A row is claimed by a worker with a lease (locked_by, lease_until) that heartbeats
-- extend; a running row whose lease has passed is reclaimed by another worker. `attempts` counts
-- claims and doubles as a fencing token: a worker may only change the row while it still holds the
-- attempt it claimed.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    -- No administration for system jobs (history pruning, diagnostics).
    administration_id BIGINT REFERENCES administrations(id),
    payload TEXT NOT NULL,
    priority BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    unique_key TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    -- The earliest moment the job may start: enqueue time, a scheduled slot, or a retry's backoff.
    run_at DATETIME NOT NULL,
    locked_by TEXT,
    lease_until DATETIME,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    last_error TEXT,
    created_at DATETIME NOT NULL,
    started_at DATETIME,
    finished_at DATETIME,
    updated_at DATETIME NOT NULL
);
-- What workers look for: due queued jobs by priority, and running jobs whose lease expired.
CREATE INDEX jobs_queued ON jobs (priority DESC, run_at, id) WHERE status = 'queued';
CREATE INDEX jobs_leases ON jobs (lease_until) WHERE status = 'running';
-- At most one queued or running job per key ("one Data Sync per administration at a time").
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_by_administration ON jobs (administration_id);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- One history for every kind of run; one run per job, created in the job's enqueue transaction.
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- No foreign key: a job row may be pruned while its run is still shown (and vice versa).
    job_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    administration_id BIGINT REFERENCES administrations(id),
    trigger TEXT NOT NULL,
    started_by BIGINT,
    cancelled_by BIGINT,
    -- For a retry: the run it retries.
    retry_of BIGINT,
    -- For a scheduled run: the period it was scheduled for.
    scheduled_for DATETIME,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    progress_done BIGINT NOT NULL DEFAULT 0,
    progress_total BIGINT,
    -- A JSON object, e.g. {"relations": 120, "work_orders": 3400}.
    counts TEXT NOT NULL DEFAULT '{}',
    -- What users read, in Dutch and English, kept apart from the internal detail for operators.
    message_nl TEXT,
    message_en TEXT,
    detail TEXT,
    queued_at DATETIME NOT NULL,
    started_at DATETIME,
    finished_at DATETIME,
    updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX runs_by_job ON runs (job_id);
CREATE INDEX runs_by_administration ON runs (administration_id, id);
CREATE INDEX runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;

-- Per-item results of a run that handles many items; one row per item key, so a retried attempt
-- overwrites its earlier result instead of adding a second one.
CREATE TABLE run_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id BIGINT NOT NULL REFERENCES runs(id),
    administration_id BIGINT REFERENCES administrations(id),
    item_key TEXT NOT NULL,
    status TEXT NOT NULL,
    message_nl TEXT,
    message_en TEXT,
    detail TEXT,
    at DATETIME NOT NULL
);
CREATE UNIQUE INDEX run_items_by_run ON run_items (run_id, item_key);
CREATE INDEX run_items_by_administration ON run_items (administration_id);

-- Periodic work. next_run_at only moves by compare-and-set on `revision`, so of several schedulers
-- exactly one fires each period. scope_key is 'system' or 'administration:<id>' (a unique index would treat
-- NULL administrations as all different).
CREATE TABLE schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    administration_id BIGINT REFERENCES administrations(id),
    scope_key TEXT NOT NULL,
    interval_seconds BIGINT NOT NULL,
    next_run_at DATETIME NOT NULL,
    last_fired_at DATETIME,
    last_run_id BIGINT,
    revision BIGINT NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX schedules_unique_scope ON schedules (kind, scope_key);
CREATE INDEX schedules_by_administration ON schedules (administration_id);

-- The probe diagnostic job's side effects: how often its body started per job, and the one
-- idempotent effect it applies (set once, by the first execution that finishes).
CREATE TABLE job_probe_executions (
    job_id BIGINT PRIMARY KEY,
    executions BIGINT NOT NULL,
    first_worker TEXT NOT NULL,
    last_worker TEXT NOT NULL,
    effect_worker TEXT,
    effect_at DATETIME
);

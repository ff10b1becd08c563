-- A run's stages split into units of work (a chunk of one candidate's questions, a chunk of
-- one judge's review tasks) that any worker on the database may claim, so several workers
-- speed up one run. A unit whose worker stopped beating is claimed again.
CREATE TABLE run_units (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    stage         TEXT    NOT NULL,                 -- answers | reviews
    chunk         INTEGER NOT NULL,                 -- its place in the stage
    spec          TEXT    NOT NULL,                 -- JSON: which items (see arena::part)
    size          INTEGER NOT NULL,                 -- items in it
    needs_model   TEXT,                             -- the local model file it needs, if any
    status        TEXT    NOT NULL DEFAULT 'queued',-- queued | running | done
    worker        TEXT,                             -- host:pid of the worker that took it last
    attempts      INTEGER NOT NULL DEFAULT 0,
    heartbeat_at  REAL,
    error         TEXT,                             -- what failed in it, if anything
    outcome       TEXT,                             -- JSON: its stage summary (calls made, tokens)
    UNIQUE (run_id, stage, chunk)
);
CREATE INDEX run_units_status ON run_units (status, run_id);

-- Keys every server on the database shares: the one that signs sessions and form tokens, so a
-- browser's requests may land on any replica behind a proxy.
CREATE TABLE server_keys (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- What a queued run needs of the worker that takes it: the local model file an eval scores
-- (by name), or ':own-server' for a load test of a server's own /v1. NULL: any worker.
ALTER TABLE runs ADD COLUMN needs_model TEXT;

-- Rule-based benchmarks. An eval is a row of `runs` (kind 'eval'); every model request it
-- makes is cached here the moment it returns, keyed by the model's identity and the request,
-- so a killed eval resumes without asking anything twice and a finished one re-runs at once.
CREATE TABLE eval_requests (
    id            INTEGER PRIMARY KEY,
    model_key     TEXT    NOT NULL,               -- the model's identity (file digest, or endpoint and name)
    request_key   TEXT    NOT NULL,               -- a digest of the request
    kind          TEXT    NOT NULL,               -- loglikelihood | generate
    context       TEXT    NOT NULL,
    continuation  TEXT,                           -- loglikelihood: what was scored
    logprob       REAL,                           -- loglikelihood: its sum of log-probabilities
    greedy        INTEGER,
    tokens        INTEGER,
    output        TEXT,                           -- generate: the text generated
    created_at    REAL    NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),
    UNIQUE (model_key, request_key)
);

-- One line per scored document, as samples_<task>.jsonl holds it.
CREATE TABLE eval_samples (
    id        INTEGER PRIMARY KEY,
    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task      TEXT    NOT NULL,
    doc_id    INTEGER NOT NULL,
    correct   INTEGER NOT NULL,
    sample    TEXT    NOT NULL,                   -- JSON
    UNIQUE (run_id, task, doc_id)
);
CREATE INDEX eval_samples_by_task ON eval_samples (run_id, task, correct);

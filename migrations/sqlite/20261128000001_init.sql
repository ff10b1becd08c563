-- Times are Unix epoch seconds (REAL), set by SQLite so every writer agrees.

CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,               -- arena | bench | perf
    config          TEXT    NOT NULL,               -- the config as given
    config_path     TEXT,
    status          TEXT    NOT NULL,               -- queued | running | succeeded | failed | cancelled
    dry_run         INTEGER NOT NULL DEFAULT 0,
    stage           TEXT,
    progress_done   INTEGER NOT NULL DEFAULT 0,
    progress_total  INTEGER NOT NULL DEFAULT 0,
    summary         TEXT,                           -- JSON, when finished
    error           TEXT,
    created_at      REAL    NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),
    finished_at     REAL
);

CREATE TABLE question_sets (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    source      TEXT UNIQUE,                        -- the file it was loaded from, if any
    created_at  REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);

CREATE TABLE questions (
    id                INTEGER PRIMARY KEY,
    question_set_id   INTEGER NOT NULL REFERENCES question_sets(id) ON DELETE CASCADE,
    external_id       TEXT    NOT NULL,             -- question_id as written in the file
    category          TEXT    NOT NULL,
    turns             TEXT    NOT NULL,             -- JSON array of strings; the first is asked
    reference_answer  TEXT,
    language          TEXT,
    UNIQUE (question_set_id, external_id)
);

CREATE TABLE models (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    backend     TEXT NOT NULL,                      -- local | remote | imported
    settings    TEXT NOT NULL DEFAULT '{}',         -- JSON
    created_at  REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);

CREATE TABLE answers (
    id                 INTEGER PRIMARY KEY,
    question_id        INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    model_id           INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    settings_hash      TEXT    NOT NULL,            -- what produced it; "imported:..." for files
    text               TEXT    NOT NULL,
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER,
    latency_ms         INTEGER,
    created_at         REAL    NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),
    UNIQUE (question_id, model_id, settings_hash)
);

-- One judge call's result: the review cache. The key is a hash of the judge model, the
-- template and the rendered prompt (and whether it was a dry run).
CREATE TABLE judgments (
    id                 INTEGER PRIMARY KEY,
    cache_key          TEXT    NOT NULL UNIQUE,
    judge_model        TEXT    NOT NULL,
    template           TEXT    NOT NULL,
    question_id        INTEGER REFERENCES questions(id) ON DELETE CASCADE,
    answer_a_id        INTEGER REFERENCES answers(id) ON DELETE CASCADE,  -- shown first
    answer_b_id        INTEGER REFERENCES answers(id) ON DELETE CASCADE,  -- NULL in single mode
    raw_text           TEXT    NOT NULL,
    verdict            TEXT    NOT NULL,            -- model_a | model_b | tie | unknown | score
    score_a            REAL,
    score_b            REAL,
    weight             REAL    NOT NULL DEFAULT 1,
    attempts           INTEGER NOT NULL,
    complete           INTEGER NOT NULL,            -- 0 while an unreadable reply may be asked again
    dry_run            INTEGER NOT NULL,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    run_id             INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    created_at         REAL    NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);

CREATE TABLE battles (
    id              INTEGER PRIMARY KEY,
    question_id     INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    answer_a_id     INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
    answer_b_id     INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
    model_a_id      INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    model_b_id      INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    winner          TEXT,                           -- NULL until decided; model_a | model_b | tie | tie (bothbad) | unknown
    source          TEXT    NOT NULL,               -- judge | human
    judge_model     TEXT,                           -- NULL for human battles
    weight          REAL    NOT NULL DEFAULT 1,
    dry_run         INTEGER NOT NULL DEFAULT 0,
    judgment_1_id   INTEGER REFERENCES judgments(id) ON DELETE SET NULL,
    judgment_2_id   INTEGER REFERENCES judgments(id) ON DELETE SET NULL,
    run_id          INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    created_at      REAL    NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0),
    UNIQUE (answer_a_id, answer_b_id, source, judge_model, dry_run)
);

CREATE INDEX battles_models ON battles (model_a_id, model_b_id);
CREATE INDEX battles_question ON battles (question_id);
CREATE INDEX answers_model ON answers (model_id);

-- The schema of migrations/sqlite up to 20261203000007, for PostgreSQL. Times are Unix epoch
-- seconds (double precision), set by the server so every writer agrees; flags are booleans.
-- A later change to the schema adds a migration to both folders.

CREATE TABLE runs (
    id                BIGSERIAL PRIMARY KEY,
    kind              TEXT    NOT NULL,               -- arena | eval | perf
    config            TEXT    NOT NULL,               -- the config as given
    config_path       TEXT,
    status            TEXT    NOT NULL,               -- queued | running | succeeded | failed | cancelled
    dry_run           BOOLEAN NOT NULL DEFAULT FALSE,
    stage             TEXT,
    progress_done     BIGINT  NOT NULL DEFAULT 0,
    progress_total    BIGINT  NOT NULL DEFAULT 0,
    summary           TEXT,                           -- JSON, when finished
    error             TEXT,
    created_at        DOUBLE PRECISION NOT NULL DEFAULT extract(epoch FROM clock_timestamp()),
    finished_at       DOUBLE PRECISION,
    cancel_requested  BOOLEAN NOT NULL DEFAULT FALSE,
    work_dir          TEXT,
    title             TEXT,
    heartbeat_at      DOUBLE PRECISION
);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE question_sets (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    source      TEXT UNIQUE,                          -- the file it was loaded from, if any
    created_at  DOUBLE PRECISION NOT NULL DEFAULT extract(epoch FROM clock_timestamp())
);

CREATE TABLE questions (
    id                BIGSERIAL PRIMARY KEY,
    question_set_id   BIGINT NOT NULL REFERENCES question_sets(id) ON DELETE CASCADE,
    external_id       TEXT   NOT NULL,                -- question_id as written in the file
    category          TEXT   NOT NULL,
    turns             TEXT   NOT NULL,                -- JSON array of strings; the first is asked
    reference_answer  TEXT,
    language          TEXT,
    UNIQUE (question_set_id, external_id)
);

CREATE TABLE models (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    backend     TEXT NOT NULL,                        -- local | remote | imported
    settings    TEXT NOT NULL DEFAULT '{}',           -- JSON
    created_at  DOUBLE PRECISION NOT NULL DEFAULT extract(epoch FROM clock_timestamp())
);

CREATE TABLE answers (
    id                 BIGSERIAL PRIMARY KEY,
    question_id        BIGINT NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    model_id           BIGINT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    settings_hash      TEXT   NOT NULL,               -- what produced it; "imported:..." for files
    text               TEXT   NOT NULL,
    prompt_tokens      BIGINT,
    completion_tokens  BIGINT,
    latency_ms         BIGINT,
    created_at         DOUBLE PRECISION NOT NULL DEFAULT extract(epoch FROM clock_timestamp()),
    UNIQUE (question_id, model_id, settings_hash)
);
CREATE INDEX answers_model ON answers (model_id);

-- One judge call's result: the review cache.
CREATE TABLE judgments (
    id                 BIGSERIAL PRIMARY KEY,
    cache_key          TEXT    NOT NULL UNIQUE,
    judge_model        TEXT    NOT NULL,
    template           TEXT    NOT NULL,
    question_id        BIGINT REFERENCES questions(id) ON DELETE CASCADE,
    answer_a_id        BIGINT REFERENCES answers(id) ON DELETE CASCADE,  -- shown first
    answer_b_id        BIGINT REFERENCES answers(id) ON DELETE CASCADE,  -- NULL in single mode
    raw_text           TEXT    NOT NULL,
    verdict            TEXT    NOT NULL,
    score_a            DOUBLE PRECISION,
    score_b            DOUBLE PRECISION,
    weight             DOUBLE PRECISION NOT NULL DEFAULT 1,
    attempts           BIGINT  NOT NULL,
    complete           BOOLEAN NOT NULL,              -- false while an unreadable reply may be asked again
    dry_run            BOOLEAN NOT NULL,
    prompt_tokens      BIGINT  NOT NULL DEFAULT 0,
    completion_tokens  BIGINT  NOT NULL DEFAULT 0,
    run_id             BIGINT REFERENCES runs(id) ON DELETE SET NULL,
    created_at         DOUBLE PRECISION NOT NULL DEFAULT extract(epoch FROM clock_timestamp())
);

CREATE TABLE battles (
    id              BIGSERIAL PRIMARY KEY,
    question_id     BIGINT  NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    answer_a_id     BIGINT  NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
    answer_b_id     BIGINT  NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
    model_a_id      BIGINT  NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    model_b_id      BIGINT  NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    winner          TEXT,                             -- NULL until decided
    source          TEXT    NOT NULL,                 -- judge | human
    judge_model     TEXT,                             -- NULL for human battles
    weight          DOUBLE PRECISION NOT NULL DEFAULT 1,
    dry_run         BOOLEAN NOT NULL DEFAULT FALSE,
    judgment_1_id   BIGINT REFERENCES judgments(id) ON DELETE SET NULL,
    judgment_2_id   BIGINT REFERENCES judgments(id) ON DELETE SET NULL,
    run_id          BIGINT REFERENCES runs(id) ON DELETE SET NULL,
    created_at      DOUBLE PRECISION NOT NULL DEFAULT extract(epoch FROM clock_timestamp()),
    import_key      TEXT,
    UNIQUE (answer_a_id, answer_b_id, source, judge_model, dry_run)
);
CREATE INDEX battles_models ON battles (model_a_id, model_b_id);
CREATE INDEX battles_question ON battles (question_id);
CREATE INDEX battles_source ON battles (source, dry_run, winner);
CREATE UNIQUE INDEX battles_import_key ON battles (import_key) WHERE import_key IS NOT NULL;

-- Human votes: one per battle.
CREATE TABLE votes (
    id          BIGSERIAL PRIMARY KEY,
    battle_id   BIGINT NOT NULL UNIQUE REFERENCES battles(id) ON DELETE CASCADE,
    voter       TEXT   NOT NULL,                      -- a keyed hash of the client, never its address
    winner      TEXT   NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL DEFAULT extract(epoch FROM clock_timestamp())
);

-- Rule-based benchmarks: every model request, cached as it returns.
CREATE TABLE eval_requests (
    id            BIGSERIAL PRIMARY KEY,
    model_key     TEXT    NOT NULL,
    request_key   TEXT    NOT NULL,
    kind          TEXT    NOT NULL,                   -- loglikelihood | generate
    context       TEXT    NOT NULL,
    continuation  TEXT,
    logprob       DOUBLE PRECISION,
    greedy        BOOLEAN,
    tokens        BIGINT,
    output        TEXT,
    created_at    DOUBLE PRECISION NOT NULL DEFAULT extract(epoch FROM clock_timestamp()),
    UNIQUE (model_key, request_key)
);

CREATE TABLE eval_samples (
    id        BIGSERIAL PRIMARY KEY,
    run_id    BIGINT  NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task      TEXT    NOT NULL,
    doc_id    BIGINT  NOT NULL,
    correct   BOOLEAN NOT NULL,
    sample    TEXT    NOT NULL,                       -- JSON
    UNIQUE (run_id, task, doc_id)
);
CREATE INDEX eval_samples_by_task ON eval_samples (run_id, task, correct);

-- Load tests: every request a `jury perf` run sent, with its timings.
CREATE TABLE perf_requests (
    id                 BIGSERIAL PRIMARY KEY,
    run_id             BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    point              BIGINT NOT NULL,
    seq                BIGINT NOT NULL,
    scheduled_s        DOUBLE PRECISION NOT NULL,
    sent_s             DOUBLE PRECISION NOT NULL,
    first_content_s    DOUBLE PRECISION,
    end_s              DOUBLE PRECISION NOT NULL,
    content_chunks     BIGINT NOT NULL,
    chunks             BIGINT NOT NULL,
    prompt_tokens      BIGINT,
    completion_tokens  BIGINT,
    failure            TEXT,
    content_at         TEXT   NOT NULL,               -- JSON array of every content chunk's time
    UNIQUE (run_id, point, seq)
);

-- Revision counters: they move with every write that can change what the pages show. SQLite
-- keeps them in a table; here they are sequences, which never make two writers wait for each
-- other, read through a view of the same name and shape.
CREATE SEQUENCE revision_battles;
CREATE SEQUENCE revision_catalog;
CREATE VIEW revisions (name, n) AS
    SELECT 'battles'::text, last_value FROM revision_battles
    UNION ALL SELECT 'catalog'::text, last_value FROM revision_catalog;

CREATE FUNCTION bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval(TG_ARGV[0]::regclass);
    RETURN NULL;
END;
$$;

CREATE TRIGGER battles_changed AFTER INSERT OR UPDATE OR DELETE ON battles
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('revision_battles');
CREATE TRIGGER judgments_changed AFTER INSERT OR UPDATE OR DELETE ON judgments
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('revision_battles');
CREATE TRIGGER question_sets_changed AFTER INSERT OR UPDATE OR DELETE ON question_sets
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('revision_catalog');
CREATE TRIGGER questions_changed AFTER INSERT OR UPDATE OR DELETE ON questions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('revision_catalog');
CREATE TRIGGER models_changed AFTER INSERT OR UPDATE OR DELETE ON models
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('revision_catalog');
CREATE TRIGGER answers_changed AFTER INSERT OR UPDATE OR DELETE ON answers
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision('revision_catalog');

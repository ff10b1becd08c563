-- Load tests (`jury perf`). A test is a row of `runs` (kind 'perf') whose summary holds each
-- point's figures; every request it sent is kept here with its timings (seconds from the
-- start of its point), so figures can be recomputed and charts drawn from the raw data.
CREATE TABLE perf_requests (
    id                 INTEGER PRIMARY KEY,
    run_id             INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    point              INTEGER NOT NULL,          -- which run of a sweep, from 0
    seq                INTEGER NOT NULL,          -- order of sending within the point
    scheduled_s        REAL    NOT NULL,
    sent_s             REAL    NOT NULL,
    first_content_s    REAL,                      -- the first chunk with content
    end_s              REAL    NOT NULL,
    content_chunks     INTEGER NOT NULL,
    chunks             INTEGER NOT NULL,
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER,
    failure            TEXT,                      -- http_500 | timeout | connection | stream_cut | error_in_body
    content_at         TEXT    NOT NULL,          -- JSON array of every content chunk's time
    UNIQUE (run_id, point, seq)
);

-- Human votes: one per battle (a battle takes one vote, then closes).
CREATE TABLE votes (
    id          INTEGER PRIMARY KEY,
    battle_id   INTEGER NOT NULL UNIQUE REFERENCES battles(id) ON DELETE CASCADE,
    voter       TEXT    NOT NULL,           -- a keyed hash of the client, never its address
    winner      TEXT    NOT NULL,
    created_at  REAL    NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);

-- Runs started from the web are queued and picked up by the job worker.
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN work_dir TEXT;
ALTER TABLE runs ADD COLUMN title TEXT;

CREATE INDEX battles_source ON battles (source, dry_run, winner);
CREATE INDEX runs_status ON runs (status);

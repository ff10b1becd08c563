-- A running run beats every few seconds; one whose beat stopped (its process was killed) is
-- shown as interrupted instead of running forever.
ALTER TABLE runs ADD COLUMN heartbeat_at REAL;

-- Verdicts imported from files (`jury import battles`) carry the key of the record they came
-- from, so that importing the same file again adds nothing.
ALTER TABLE battles ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX battles_import_key ON battles (import_key) WHERE import_key IS NOT NULL;

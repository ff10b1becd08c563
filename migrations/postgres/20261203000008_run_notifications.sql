-- Workers wait on this channel for queued runs instead of polling for them (SQLite has no
-- such channel: there one process's worker is woken in-process and others poll).
CREATE FUNCTION notify_run_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'queued' THEN
        PERFORM pg_notify('jury_runs_queued', NEW.id::text);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER runs_queued AFTER INSERT OR UPDATE OF status ON runs
    FOR EACH ROW EXECUTE FUNCTION notify_run_queued();

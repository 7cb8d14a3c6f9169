-- sql/functions/cs_require.sql
--      A condition checked inside a statement, failing it with a SQLSTATE of our own.
--
-- The worker runtime sends a batch's transaction in one round trip (libpq pipeline mode): the
-- statements after a check are already on their way when the check runs, so a check that fails
-- must abort the transaction on the server, and the client must be able to tell which check it
-- was. The runtime's own SQLSTATEs (class CS, never used by PostgreSQL):
--   CSR01  redo the batch: an event id was applied, a learner erased, or a key repeated more
--          often than the client counted, since the batch was prepared;
--   CSF01  fenced: another consumer moved one of the batch's offsets.
-- ok NULL passes: a caller that leaves a limit NULL checks nothing.

CREATE OR REPLACE FUNCTION cs_require(ok boolean, sqlstate text, message text) RETURNS boolean
    LANGUAGE plpgsql
    PARALLEL SAFE
AS $$
BEGIN
    IF ok IS FALSE THEN
        RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = message;
    END IF;
    RETURN true;
END
$$;

COMMENT ON FUNCTION cs_require(boolean,text,text) IS
    'Raises message with SQLSTATE sqlstate when ok is false (the worker runtime''s in-statement checks).';

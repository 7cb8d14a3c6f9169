-- sql/migrations/0067_dead_letters_user.sql
--      Dead letters name their learner and schema version: erasure finds them by learner.
--
-- The runtime has always sent the learner and the writer's schema version in the dead-letter
-- topic's headers (cs-user-id, cs-schema-version) but not to the table, so gdpr_erase_user could
-- only find an erased learner's dead letters by their Kafka key. user_id is the envelope's, or,
-- for a message that could not be decoded, its key when the key is a uuid (the key of every
-- careerstream event is its learner's user_id). Existing rows get it from their key.
--
-- Dead letters of a learner already erased when they are recorded keep no payload, no key and
-- no reason (which may quote the payload), see cs/dlq.h; erased marks them.

ALTER TABLE dead_letters
    ADD COLUMN user_id uuid,
    ADD COLUMN schema_version integer CHECK (schema_version > 0),
    ADD COLUMN erased boolean NOT NULL DEFAULT false;

UPDATE dead_letters SET user_id = encode(msg_key, 'escape')::uuid
 WHERE length(msg_key) = 36
   AND encode(msg_key, 'escape') ~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$';

CREATE INDEX dead_letters_user_id ON dead_letters (user_id) WHERE user_id IS NOT NULL;

COMMENT ON COLUMN dead_letters.user_id IS
    'The learner: the envelope''s user_id, else the message key when it is a uuid; NULL unknown.';
COMMENT ON COLUMN dead_letters.erased IS
    'The learner was erased when the dead letter was recorded: payload, msg_key and the '
    'original reason were not kept.';

-- The view lists d.* as it was when created (0064): again, with the new columns.
CREATE OR REPLACE VIEW worker_dead_letters WITH (security_barrier) AS
    SELECT d.* FROM dead_letters d
     WHERE d.consumer_group LIKE ANY ((SELECT cs_worker_group_patterns())::text[]);

-- sql/migrations/0087_progress_rollup_lz4.sql
--      readiness_progress_rollups.accessed is compressed with lz4 instead of pglz: every
--      user_progress statement rewrites the accessed map of each learner it touches, and a map
--      past ~2 kB was compressed with pglz at each rewrite (and decompressed at each read).
--
-- accessed (0079) holds one item per content item a learner studied, {"<content_id>": [us, secs]};
-- on the 1,000,000-event stream a learner ends with ~20-40 of them, 1.3-3 kB of jsonb, so from
-- about half-way through the drain most rows are over the heap's TOAST threshold and the roll-up
-- statement of readiness_progress_rollup_on_change (`accessed = jsonb_strip_nulls(r.accessed ||
-- EXCLUDED.accessed)`) decompresses and recompresses the map of each learner of the batch. lz4
-- compresses these maps about as well (2,246 vs 2,152 bytes for 40 items) and updating 5,000 of
-- them took 1.25-1.45 s instead of 2.5-4.0 s on the loaded 2-core machine. The values are the
-- same jsonb: readers (career_readiness_inputs_batch) see no difference, and values already
-- stored keep pglz until their next rewrite (each datum records its own method).
-- The server must be built --with-lz4 (Debian's PostgreSQL 15 is); this fails otherwise.

ALTER TABLE readiness_progress_rollups ALTER COLUMN accessed SET COMPRESSION lz4;

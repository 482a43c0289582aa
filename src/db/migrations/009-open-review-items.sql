-- The streams list counts each stream's open review items; decided ones are kept (the audit trail
-- and the API list them), so without this the count scanned the whole history at every page load.
CREATE INDEX review_queue_open ON review_queue(stream_id, status) WHERE status IN ('pending', 'escalated');

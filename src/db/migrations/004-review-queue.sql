-- The review queue grows: viewer reports (the reported message and who reported it) and expiry of
-- pending items after the stream's review_expiry_s.
ALTER TABLE review_queue ADD COLUMN target_seq INTEGER;   -- a report: the reported message's seq
ALTER TABLE review_queue ADD COLUMN reporter_id TEXT;     -- a report: the reporting viewer
ALTER TABLE review_queue ADD COLUMN expires_at INTEGER;   -- a pending item expires (denied) then
UPDATE review_queue SET expires_at = created_at + 600000 WHERE status = 'pending';
CREATE INDEX review_queue_expiry ON review_queue(expires_at) WHERE status = 'pending';
-- One report per viewer per message.
CREATE UNIQUE INDEX review_queue_one_report ON review_queue(stream_id, target_seq, reporter_id) WHERE kind = 'report';
CREATE INDEX review_queue_by_stream_user ON review_queue(stream_id, user_id, created_at);

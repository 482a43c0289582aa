-- Chat: messages with a per-stream gap-free seq, nonces for retried sends, the minimal review queue
-- of held messages, and stream bans/timeouts.

CREATE TABLE messages (
  stream_id   TEXT NOT NULL REFERENCES streams(id),
  seq         INTEGER NOT NULL,          -- assigned at commit, one per stored message, no gaps
  id          TEXT NOT NULL,             -- not indexed: nothing looks messages up by id (one index less per write)
  user_id     TEXT,                      -- viewer id; NULL for a guest
  user_name   TEXT NOT NULL,
  badges      TEXT NOT NULL DEFAULT '[]',
  body        TEXT,                      -- NULL once deleted or erased (a tombstone)
  reply_to    INTEGER,
  mentions    TEXT NOT NULL DEFAULT '[]',
  created_at  INTEGER NOT NULL,
  visible_at  INTEGER NOT NULL,          -- created_at + chat delay
  deleted_at  INTEGER,
  scores      TEXT,                      -- moderation stage scores of the publish decision
  PRIMARY KEY (stream_id, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX messages_by_user ON messages(user_id, stream_id);
CREATE INDEX messages_by_time ON messages(stream_id, created_at);

-- A retried nonce returns the first answer: the answer is stored with the write it answers.
CREATE TABLE chat_nonces (
  stream_id  TEXT NOT NULL,
  viewer_key TEXT NOT NULL,              -- viewer id; a guest's key is unique to its socket and process
  nonce      TEXT NOT NULL,
  answer     TEXT NOT NULL,              -- JSON reply
  created_at INTEGER NOT NULL,
  PRIMARY KEY (stream_id, viewer_key, nonce)
) STRICT, WITHOUT ROWID;
CREATE INDEX chat_nonces_by_time ON chat_nonces(created_at);

-- The minimal review queue: held messages waiting for a human. The moderation issue grows it.
CREATE TABLE review_queue (
  id          TEXT PRIMARY KEY,          -- a held message's held_id
  stream_id   TEXT NOT NULL REFERENCES streams(id),
  kind        TEXT NOT NULL DEFAULT 'held' CHECK (kind IN ('held', 'report', 'escalation')),
  status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'escalated', 'expired')),
  user_id     TEXT,
  user_name   TEXT NOT NULL,
  badges      TEXT NOT NULL DEFAULT '[]',
  body        TEXT,
  reply_to    INTEGER,
  mentions    TEXT NOT NULL DEFAULT '[]',
  reasons     TEXT NOT NULL DEFAULT '[]',
  scores      TEXT,
  created_at  INTEGER NOT NULL,
  decided_at  INTEGER,
  decided_by  TEXT,
  decision_reason TEXT,
  seq         INTEGER                    -- the seq it was published with, once approved
) STRICT;
CREATE INDEX review_queue_by_stream ON review_queue(stream_id, status, created_at);
CREATE INDEX review_queue_by_user ON review_queue(user_id);

CREATE TABLE stream_bans (
  stream_id  TEXT NOT NULL REFERENCES streams(id),
  user_id    TEXT NOT NULL,
  until      INTEGER,                    -- NULL: banned; else timed out until then
  reason     TEXT,
  created_by TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (stream_id, user_id)
) STRICT, WITHOUT ROWID;

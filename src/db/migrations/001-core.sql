-- Core: accounts, API keys, streams, broadcasts, moderators, viewer revocations, the audit log.
-- Times are epoch milliseconds (INTEGER); interfaces render them as RFC 3339.

CREATE TABLE accounts (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('admin', 'creator', 'moderator')),
  viewer_id     TEXT UNIQUE,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  key_hash    TEXT NOT NULL UNIQUE,
  scopes      TEXT NOT NULL,            -- JSON array of scope names
  created_by  TEXT,
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER
) STRICT;

CREATE TABLE streams (
  id                   TEXT PRIMARY KEY,
  slug                 TEXT NOT NULL UNIQUE,
  title                TEXT NOT NULL,
  owner_id             TEXT REFERENCES accounts(id),
  settings             TEXT NOT NULL,   -- JSON, validated by streams/settings.ts
  status               TEXT NOT NULL DEFAULT 'offline' CHECK (status IN ('offline', 'live')),
  current_broadcast_id TEXT,
  live_since           INTEGER,
  epoch                TEXT NOT NULL,   -- changes when chat history is lost (restore, purge)
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL
) STRICT;

CREATE TABLE stream_moderators (
  stream_id  TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (stream_id, account_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE broadcasts (
  id         TEXT PRIMARY KEY,
  stream_id  TEXT NOT NULL REFERENCES streams(id),
  started_at INTEGER NOT NULL,
  ended_at   INTEGER
) STRICT;
CREATE INDEX broadcasts_by_stream ON broadcasts(stream_id, started_at);

CREATE TABLE viewer_revocations (
  viewer_id  TEXT PRIMARY KEY,
  revoked_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Append-only: the triggers below refuse any UPDATE or DELETE, whoever asks.
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  actor_type  TEXT NOT NULL CHECK (actor_type IN ('account', 'api_key', 'viewer', 'system')),
  actor_id    TEXT,
  action      TEXT NOT NULL,
  stream_id   TEXT,
  target_type TEXT,
  target_id   TEXT,
  reason      TEXT,
  data        TEXT                      -- JSON details (never secrets)
) STRICT;
CREATE INDEX audit_by_stream ON audit_log(stream_id, at);
CREATE INDEX audit_by_time ON audit_log(at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Dashboard sessions. The cookie carries a random token; only its SHA-256 is stored, so a copy of
-- the database lets nobody log in. A session ends at expires_at or at logout (the row is deleted).
CREATE TABLE dashboard_sessions (
  token_hash TEXT PRIMARY KEY,          -- hex SHA-256 of the cookie's token
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  credential TEXT NOT NULL              -- fingerprint of the password hash at login: a new password ends the session
) STRICT, WITHOUT ROWID;
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions(expires_at);
CREATE INDEX dashboard_sessions_by_account ON dashboard_sessions(account_id);

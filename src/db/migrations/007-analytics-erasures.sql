-- A viewer's erasure, as far as analytics is concerned: written in the same transaction as the rest
-- of the erasure (messages, votes, the audit row), and deleted once the analytics worker has renamed
-- the viewer in DuckDB (which is not part of SQLite's transaction). A row left here by a crash, or
-- by a worker that was down, is applied at the next start or flush interval.
CREATE TABLE analytics_erasures (
  id           INTEGER PRIMARY KEY,
  viewer_id    TEXT NOT NULL,
  replacement  TEXT NOT NULL,           -- the anonymous key the viewer's rows get ("erased:<uuid>")
  requested_at INTEGER NOT NULL
) STRICT;

-- Reactions and polls: the reaction rollup (window totals kept for analytics), polls and their votes.

CREATE TABLE reaction_windows (
  stream_id    TEXT NOT NULL REFERENCES streams(id),
  window_start INTEGER NOT NULL,         -- ms, a multiple of window_ms
  window_ms    INTEGER NOT NULL,
  emoji        TEXT NOT NULL,
  count        INTEGER NOT NULL,
  PRIMARY KEY (stream_id, window_start, window_ms, emoji)
) STRICT, WITHOUT ROWID;

CREATE TABLE polls (
  id          TEXT PRIMARY KEY,
  stream_id   TEXT NOT NULL REFERENCES streams(id),
  question    TEXT NOT NULL,
  options     TEXT NOT NULL,             -- JSON array of option texts
  opened_at   INTEGER NOT NULL,
  closes_at   INTEGER NOT NULL,
  status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  closed_at   INTEGER,
  tallies     TEXT,                      -- final tallies (JSON) once closed: they stay after a voter's erasure
  total       INTEGER,
  winner      INTEGER,
  created_by  TEXT,
  closed_by   TEXT                       -- NULL: closed at its deadline
) STRICT;
-- One open poll per stream, held by the database too.
CREATE UNIQUE INDEX polls_one_open ON polls(stream_id) WHERE status = 'open';
CREATE INDEX polls_by_stream ON polls(stream_id, opened_at);

CREATE TABLE poll_votes (
  poll_id    TEXT NOT NULL REFERENCES polls(id),
  voter_key  TEXT NOT NULL,              -- viewer id; a guest's key is unique to its socket and process
  viewer_id  TEXT,
  option     INTEGER NOT NULL,
  at         INTEGER NOT NULL,
  PRIMARY KEY (poll_id, voter_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX poll_votes_by_viewer ON poll_votes(viewer_id) WHERE viewer_id IS NOT NULL;

-- Content segments a creator marks during a broadcast ("pre-show", "Q&A", "halftime"): each lasts
-- until the next mark or the broadcast's end. Analytics tags every event with the one in force.
CREATE TABLE broadcast_segments (
  broadcast_id TEXT NOT NULL REFERENCES broadcasts(id),
  seq          INTEGER NOT NULL,         -- order of marking (two marks may share a millisecond)
  label        TEXT NOT NULL,
  started_at   INTEGER NOT NULL,
  created_by   TEXT,
  PRIMARY KEY (broadcast_id, seq)
) STRICT, WITHOUT ROWID;

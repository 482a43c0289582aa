-- Where each run of the server starts numbering its analytics flushes. DuckDB recognises a batch it
-- already stored (a resend) by its flush id, and a broadcast live across a restart reads what earlier
-- runs stored as flush ids below this run's first: ids must grow from run to run even when the wall
-- clock steps back. One row.
CREATE TABLE analytics_flush_ids (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  run_first_id   INTEGER NOT NULL        -- the latest run's first flush id
) STRICT;

-- relay holds other devices' changes imported from bundles, carried to the
-- server at the next sync and deleted once a server receipt for their
-- device covers them. prev is every change's chain predecessor, recomputed
-- at import, so any suffix can be sent as a run.
CREATE TABLE relay (
	device TEXT NOT NULL,
	seq    INTEGER NOT NULL CHECK (seq > 0),
	prev   BLOB NOT NULL CHECK (length(prev) = 32),
	change BLOB NOT NULL, -- protocol JSON, with sig where the bundle had one
	PRIMARY KEY (device, seq)
) WITHOUT ROWID;

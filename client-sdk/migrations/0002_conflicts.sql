-- Conflicts as the whole fleet sees them (see conflict.go): every version of
-- every record is kept, conflicts are derived from the set of versions held,
-- and the county's resolutions are applied wherever they arrive.

-- versions holds every change the device holds, its own and pulled ones, by
-- record: the input from which the records and conflicts tables are derived.
CREATE TABLE versions (
	device     TEXT NOT NULL,
	seq        INTEGER NOT NULL CHECK (seq > 0),
	collection TEXT NOT NULL,
	id         TEXT NOT NULL,
	base       INTEGER NOT NULL,
	wall       INTEGER NOT NULL, -- HLC physical part, Unix ms
	logical    INTEGER NOT NULL, -- HLC logical part
	at         INTEGER NOT NULL, -- capture time corrected by the author's learned offset, Unix ms
	body       BLOB NOT NULL,
	PRIMARY KEY (device, seq)
) WITHOUT ROWID;
CREATE INDEX versions_record ON versions (collection, id);

-- slot is the slot the record's current version claims ('' for none).
ALTER TABLE records ADD COLUMN slot TEXT NOT NULL DEFAULT '';
CREATE INDEX records_slot ON records (collection, slot);

-- The conflicts of 0001 were per pulled change; they are rebuilt from the
-- versions by the device on first open (meta key reindex).
DROP TABLE conflicts;

-- conflicts holds every conflict the device derived: open ones and resolved
-- ones. Its id is the fleet-wide conflict id (CF-...).
CREATE TABLE conflicts (
	id         TEXT PRIMARY KEY NOT NULL,
	kind       TEXT NOT NULL CHECK (kind IN ('record', 'slot')),
	collection TEXT NOT NULL,
	key        TEXT NOT NULL, -- the record id (kind record) or the slot (kind slot)
	detected   INTEGER NOT NULL, -- device clock, Unix ms
	resolution TEXT, -- id of the resolution record once resolved
	keep       TEXT, -- the version kept, <device>/<seq>
	keep_id    TEXT, -- the record id of the version kept
	-- the resolution change's order (HLC, author, seq): the latest
	-- resolution of a record is the last in this order
	res_wall    INTEGER,
	res_logical INTEGER,
	res_device  TEXT,
	res_seq     INTEGER
) WITHOUT ROWID;
CREATE INDEX conflicts_key ON conflicts (collection, kind, key);
CREATE INDEX conflicts_open ON conflicts (detected) WHERE resolution IS NULL;

-- conflict_versions lists the versions of each conflict.
CREATE TABLE conflict_versions (
	conflict   TEXT NOT NULL REFERENCES conflicts (id) ON DELETE CASCADE,
	pos        INTEGER NOT NULL,
	collection TEXT NOT NULL,
	record_id  TEXT NOT NULL,
	device     TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	PRIMARY KEY (conflict, pos)
) WITHOUT ROWID;
CREATE INDEX conflict_versions_record ON conflict_versions (collection, record_id);

-- resolutions indexes the current body of every well-formed resolution
-- record the device holds, by the conflict it resolves.
CREATE TABLE resolutions (
	conflict   TEXT PRIMARY KEY NOT NULL,
	record     TEXT NOT NULL UNIQUE, -- RES-<conflict>
	kind       TEXT NOT NULL CHECK (kind IN ('record', 'slot')),
	collection TEXT NOT NULL,
	key        TEXT NOT NULL,
	keep       TEXT NOT NULL,
	versions   BLOB NOT NULL, -- JSON [{"ref","id"}] as in the resolution body
	device     TEXT NOT NULL, -- the resolution change, for ordering
	seq        INTEGER NOT NULL,
	wall       INTEGER NOT NULL,
	logical    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX resolutions_key ON resolutions (collection, kind, key);

INSERT INTO meta (key, value) VALUES ('reindex', '1')
	ON CONFLICT (key) DO UPDATE SET value = excluded.value;

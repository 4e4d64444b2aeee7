-- The device store. Every table is written through the one writer
-- connection; see store.go.

-- meta holds the device identity and its sync state, one value per key.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY NOT NULL,
	value BLOB -- BLOB affinity: values are stored exactly as bound
) WITHOUT ROWID;

-- outbox holds every change this device authored, signed at capture. Rows
-- are never deleted: acked is set once a verified server receipt covers them.
CREATE TABLE outbox (
	seq    INTEGER PRIMARY KEY CHECK (seq > 0),
	hash   BLOB NOT NULL CHECK (length(hash) = 32),
	prev   BLOB NOT NULL CHECK (length(prev) = 32),
	change BLOB NOT NULL, -- the change as protocol JSON, with prev and sig
	acked  INTEGER NOT NULL DEFAULT 0 CHECK (acked IN (0, 1))
);
CREATE INDEX outbox_unacked ON outbox (seq) WHERE acked = 0;

-- remote holds changes of other devices pulled from the server, in the
-- order they were received, as received.
CREATE TABLE remote (
	pos      INTEGER PRIMARY KEY AUTOINCREMENT,
	device   TEXT NOT NULL,
	seq      INTEGER NOT NULL,
	change   BLOB NOT NULL,
	received INTEGER NOT NULL, -- device clock, Unix ms
	UNIQUE (device, seq)
);

-- records is the current state of every record the device holds. A NULL
-- township means the record's place is not known (its collection or its
-- references are unknown to this device).
CREATE TABLE records (
	collection TEXT NOT NULL,
	id         TEXT NOT NULL,
	body       BLOB NOT NULL,
	version    INTEGER NOT NULL CHECK (version > 0),
	device     TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	township   TEXT,
	village    TEXT,
	own        INTEGER NOT NULL CHECK (own IN (0, 1)),
	PRIMARY KEY (collection, id)
) WITHOUT ROWID;

-- conflicts records pulled changes that could not be applied because the
-- device holds a different version of the record; the local version is kept.
CREATE TABLE conflicts (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	collection    TEXT NOT NULL,
	record_id     TEXT NOT NULL,
	local_device  TEXT NOT NULL,
	local_seq     INTEGER NOT NULL,
	local_version INTEGER NOT NULL,
	remote_device TEXT NOT NULL,
	remote_seq    INTEGER NOT NULL,
	remote_base   INTEGER NOT NULL,
	remote_body   BLOB NOT NULL,
	detected      INTEGER NOT NULL, -- device clock, Unix ms
	UNIQUE (remote_device, remote_seq)
);

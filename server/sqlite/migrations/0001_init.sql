-- 0001_init: the central server's schema.
--
-- Times are Unix nanoseconds (UTC); NULL means "never" (not retired, not
-- revoked, not used, not resolved). Hashes, keys and signatures are BLOBs;
-- record bodies are the exact bytes the device hashed.

-- Server Ed25519 keys for access tokens and receipts. The data directory is
-- the root of trust, so the private keys live here.
CREATE TABLE signing_keys (
	kid         TEXT    PRIMARY KEY,
	private_key BLOB    NOT NULL,
	created     INTEGER NOT NULL,
	retired     INTEGER
) STRICT;

-- Single-use enrollment codes; only the hash of the printed code is kept.
CREATE TABLE enroll_codes (
	hash    TEXT    PRIMARY KEY,
	role    TEXT    NOT NULL,
	scope   TEXT    NOT NULL,
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL,
	used_by TEXT,
	used_at INTEGER
) STRICT;

CREATE TABLE devices (
	id            TEXT    PRIMARY KEY,
	public_key    BLOB    NOT NULL,
	role          TEXT    NOT NULL,
	scope         TEXT    NOT NULL,
	label         TEXT    NOT NULL DEFAULT '',
	enrolled      INTEGER NOT NULL,
	revoked       INTEGER,
	revoked_after INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Single-use server nonces for token requests.
CREATE TABLE nonces (
	nonce   TEXT    PRIMARY KEY,
	expires INTEGER NOT NULL
) STRICT;
CREATE INDEX nonces_expires ON nonces (expires);

-- The server log: every accepted change, in the order it was applied. pos is
-- the log position pull cursors refer to; AUTOINCREMENT keeps positions from
-- ever being reused. The log is the hottest table, so it is not STRICT (the
-- type checks cost about a tenth of ingest); the store binds exact types.
CREATE TABLE changes (
	pos            INTEGER PRIMARY KEY AUTOINCREMENT,
	device         TEXT    NOT NULL REFERENCES devices (id),
	seq            INTEGER NOT NULL,
	hash           BLOB    NOT NULL,
	prev           BLOB    NOT NULL,
	collection     TEXT    NOT NULL,
	record_id      TEXT    NOT NULL,
	base           INTEGER NOT NULL,
	wall           INTEGER NOT NULL,
	logical        INTEGER NOT NULL,
	at             INTEGER NOT NULL,
	clock_offset   INTEGER NOT NULL,
	schema_version INTEGER NOT NULL,
	body           BLOB    NOT NULL,
	sig            BLOB,
	township       TEXT    NOT NULL,
	village        TEXT    NOT NULL,
	received       INTEGER NOT NULL,
	UNIQUE (device, seq)
);
-- Pull reads one of these ranges per arm of its query, in log order. The
-- indexes are partial so that each change enters only the ones it can be
-- pulled through: a village's change the village and township indexes, a
-- township-wide or county-wide change the township and wide indexes.
CREATE INDEX changes_village ON changes (village, pos) WHERE village <> '';
CREATE INDEX changes_township ON changes (township, pos) WHERE township <> '';
CREATE INDEX changes_wide ON changes (township, pos, collection) WHERE village = '';

-- Each device's contiguous head: the highest seq in the log and its hash.
CREATE TABLE device_heads (
	device TEXT    PRIMARY KEY REFERENCES devices (id),
	seq    INTEGER NOT NULL,
	hash   BLOB    NOT NULL
) STRICT;

-- Changes received beyond a gap in their device's chain, waiting for it to
-- close.
CREATE TABLE held (
	device         TEXT    NOT NULL REFERENCES devices (id),
	seq            INTEGER NOT NULL,
	hash           BLOB    NOT NULL,
	prev           BLOB    NOT NULL,
	collection     TEXT    NOT NULL,
	record_id      TEXT    NOT NULL,
	base           INTEGER NOT NULL,
	wall           INTEGER NOT NULL,
	logical        INTEGER NOT NULL,
	at             INTEGER NOT NULL,
	clock_offset   INTEGER NOT NULL,
	schema_version INTEGER NOT NULL,
	body           BLOB    NOT NULL,
	sig            BLOB,
	township       TEXT    NOT NULL,
	village        TEXT    NOT NULL,
	received       INTEGER NOT NULL,
	PRIMARY KEY (device, seq)
) STRICT;

-- The current state of every record: which logged change holds its
-- accepted version (the body is read from the log through pos).
CREATE TABLE records (
	collection TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	pos        INTEGER NOT NULL REFERENCES changes (pos),
	township   TEXT    NOT NULL,
	village    TEXT    NOT NULL,
	device     TEXT    NOT NULL,
	seq        INTEGER NOT NULL,
	PRIMARY KEY (collection, id)
) WITHOUT ROWID;

-- Changes that collided with a record's state: a different fact for the same
-- id, or an edit based on a stale version. Both versions are kept until the
-- county resolves it.
CREATE TABLE conflicts (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	collection       TEXT    NOT NULL,
	record_id        TEXT    NOT NULL,
	kind             TEXT    NOT NULL,
	base             INTEGER NOT NULL,
	existing_version INTEGER NOT NULL,
	existing_device  TEXT    NOT NULL,
	existing_seq     INTEGER NOT NULL,
	existing_pos     INTEGER NOT NULL,
	existing_body    BLOB    NOT NULL,
	incoming_device  TEXT    NOT NULL,
	incoming_seq     INTEGER NOT NULL,
	incoming_pos     INTEGER NOT NULL,
	incoming_body    BLOB    NOT NULL,
	created          INTEGER NOT NULL,
	resolved         INTEGER
) STRICT;
CREATE INDEX conflicts_record ON conflicts (collection, record_id);
CREATE INDEX conflicts_open ON conflicts (created) WHERE resolved IS NULL;

-- Evidence of a device signing two different changes for one seq: both
-- versions as protocol JSON.
CREATE TABLE equivocations (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	device   TEXT    NOT NULL,
	seq      INTEGER NOT NULL,
	stored   TEXT    NOT NULL,
	incoming TEXT    NOT NULL,
	created  INTEGER NOT NULL
) STRICT;
CREATE INDEX equivocations_device ON equivocations (device, seq);

-- Security events for the county.
CREATE TABLE alerts (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	kind    TEXT    NOT NULL,
	device  TEXT    NOT NULL,
	detail  TEXT    NOT NULL,
	created INTEGER NOT NULL
) STRICT;

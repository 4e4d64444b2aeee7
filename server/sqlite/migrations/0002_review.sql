-- 0002_review: slots and conflict ids shared with every device, the county's
-- resolutions and audit trail, stateless nonces.
--
-- Go code runs after this file in the same transaction (see migrateReview):
-- it fills the slot of existing records and held changes, turns the 0001
-- conflict rows into conflicts with the shared ids, finds the slot conflicts
-- among existing records, and drops conflicts_v1.

-- The slot a fact's current version claims ('' for none) and, once the
-- county resolved a slot conflict for another record, the id of that
-- resolution: the record is kept as evidence, out of every derivation.
ALTER TABLE records ADD COLUMN slot TEXT NOT NULL DEFAULT '';
ALTER TABLE records ADD COLUMN superseded TEXT NOT NULL DEFAULT '';
CREATE INDEX records_slot ON records (collection, slot) WHERE slot <> '';
ALTER TABLE held ADD COLUMN slot TEXT NOT NULL DEFAULT '';

DROP INDEX conflicts_record;
DROP INDEX conflicts_open;
ALTER TABLE conflicts RENAME TO conflicts_v1;

-- Conflicts, by the id every replica computes (CF-...). subject is the
-- record id of a record conflict and the slot of a slot conflict; pos is
-- the log position of the change that raised it. A conflict that gains a
-- version is superseded by a new one holding them all.
CREATE TABLE conflicts (
	id            TEXT    PRIMARY KEY,
	kind          TEXT    NOT NULL CHECK (kind IN ('record', 'slot')),
	collection    TEXT    NOT NULL,
	subject       TEXT    NOT NULL,
	township      TEXT    NOT NULL,
	village       TEXT    NOT NULL,
	pos           INTEGER NOT NULL,
	created       INTEGER NOT NULL,
	resolved      INTEGER,
	resolution    TEXT,
	superseded_by TEXT
) STRICT;
CREATE INDEX conflicts_subject ON conflicts (collection, subject) WHERE resolved IS NULL AND superseded_by IS NULL;

-- The versions of each conflict: the logged changes that introduced them.
CREATE TABLE conflict_versions (
	conflict  TEXT    NOT NULL REFERENCES conflicts (id),
	device    TEXT    NOT NULL,
	seq       INTEGER NOT NULL,
	record_id TEXT    NOT NULL,
	pos       INTEGER NOT NULL REFERENCES changes (pos),
	PRIMARY KEY (conflict, device, seq)
) STRICT, WITHOUT ROWID;

-- The county's audit trail: conflicts resolved and violations acknowledged.
CREATE TABLE audit (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	action   TEXT    NOT NULL,
	subject  TEXT    NOT NULL,
	target   TEXT    NOT NULL,
	keep     TEXT    NOT NULL,
	reason   TEXT    NOT NULL,
	change   TEXT    NOT NULL,
	created  INTEGER NOT NULL
) STRICT;

-- Rule violations the county acknowledged: they stay in the rule matrix.
CREATE TABLE acknowledgements (
	violation TEXT    PRIMARY KEY,
	audit     INTEGER NOT NULL REFERENCES audit (id)
) STRICT;

-- Nonces are stateless (a MAC over a random value and an expiry under a key
-- kept here); only the hashes of used ones are stored, until they expire.
DROP TABLE nonces;
CREATE TABLE server_secrets (
	name    TEXT PRIMARY KEY,
	value   BLOB NOT NULL
) STRICT;
CREATE TABLE used_nonces (
	hash    BLOB    PRIMARY KEY,
	expires INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX used_nonces_expires ON used_nonces (expires);

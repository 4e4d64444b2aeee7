-- 0003_quarantine: changes a revoked device signed after its revocation
-- point, held for the county's review instead of entering the log.

-- One review item per batch of a revoked device's quarantined changes:
-- open until the county accepts (the changes are then in the log too) or
-- rejects them (they stay here as evidence). A device has at most one open
-- item; changes quarantined while it is open join it. audit is the entry
-- of the decision.
CREATE TABLE quarantine_items (
	id        TEXT    PRIMARY KEY,
	device    TEXT    NOT NULL REFERENCES devices (id),
	first_seq INTEGER NOT NULL,
	status    TEXT    NOT NULL CHECK (status IN ('open', 'accepted', 'rejected')),
	created   INTEGER NOT NULL,
	decided   INTEGER,
	audit     INTEGER REFERENCES audit (id)
) STRICT;
CREATE UNIQUE INDEX quarantine_items_open ON quarantine_items (device) WHERE status = 'open';
CREATE INDEX quarantine_items_created ON quarantine_items (created);

-- The quarantined changes, as the device signed them (the columns of held),
-- each in the item that holds it. A seq is quarantined once: a different
-- change for it is equivocation.
CREATE TABLE quarantine (
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
	slot           TEXT    NOT NULL DEFAULT '',
	item           TEXT    NOT NULL REFERENCES quarantine_items (id),
	PRIMARY KEY (device, seq)
) STRICT;
CREATE INDEX quarantine_item ON quarantine (item, seq);
CREATE INDEX quarantine_record ON quarantine (device, collection, record_id);

// Package sqlite is the embedded SQLite adapter of the central server: it
// implements server.Store on one database file with modernc.org/sqlite (pure
// Go, no cgo).
//
// # What it owns
//
//   - The schema, as embedded numbered migrations (migrations/NNNN_name.sql),
//     each applied in its own transaction and recorded in schema_migrations.
//   - Durability: every connection runs in WAL mode with synchronous=FULL and
//     foreign keys on; Open refuses a database where WAL did not take effect.
//     A method returns only after its transaction has committed.
//   - Concurrency: one writer connection (transactions begin IMMEDIATE, so
//     writers queue instead of failing) and a separate read-only pool for
//     pulls and look-ups, which never block the writer. Concurrent pushes
//     share one commit, each in its own savepoint, so that one fsync of the
//     write-ahead log makes a whole group durable.
//   - The server log: Push appends each device's changes in chain order,
//     detects duplicates, gaps and equivocation, holds changes beyond a gap
//     and applies contiguous ones to the current state of records: facts are
//     append-only, reference records take edits on their current version,
//     and every collision — a record rewritten or edited on a stale base, a
//     slot claimed by records with different bodies — becomes a conflict
//     holding every version, under the id every replica computes. A
//     resolution record settles its conflict (the kept version wins; a slot's
//     other records are superseded). Pull reads the log by scope with one
//     indexed query per scope shape; Snapshot reads every record and conflict
//     at one log position for the county's review and report.
//   - The county's audit trail (resolutions, written with their change in
//     one transaction, and acknowledgements) and the hashes of used nonces.
//
// # What it must not do
//
// It verifies nothing cryptographic and validates no record: the service in
// package server hands it changes it has already checked (shape, chain,
// signatures, schema, scope). It makes no policy decisions beyond those the
// server.Store documentation states, reads no clock (times are parameters),
// and never logs keys, tokens, codes or record bodies.
package sqlite

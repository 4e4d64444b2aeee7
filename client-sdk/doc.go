// Package client is what a villagesync device links: the station or
// supervisor laptop's local store, its outbox of signed changes, record
// capture and the sync engine that talks to the central server.
//
// # What it owns
//
//   - Enrollment. [Enroll] generates the device's Ed25519 key pair, redeems a
//     single-use enrollment code and keeps the identity (device id, role,
//     scope, server address, server receipt keys) in dir/device.db. The
//     private key never leaves that file, which is created with mode 0600.
//   - The local store: SQLite (modernc, pure Go) in WAL mode with
//     synchronous=FULL, one writer connection and a small reader pool, with
//     embedded numbered migrations. Tables: meta (identity and sync state),
//     outbox (the device's own changes, signed at capture, never deleted),
//     remote (pulled changes, kept as received), versions (every change
//     held, by record), and what is derived from them: records (the current
//     state of every record), conflicts and resolutions.
//   - Capture. [Device.Capture] validates a record with the election
//     domain, refuses anything malformed or outside the device's scope,
//     then chains, signs and stores the change in one transaction: when it
//     returns, the record is durable. A record that breaks an election rule
//     is captured all the same (the paper is the primary record) and the
//     rule findings come back as warnings, at once.
//   - Conflicts ([Conflict]). Every replica derives the same conflicts
//     from the set of versions it holds, whatever order they arrived in: a
//     record conflict (a fact rewritten, a reference edit on a stale base)
//     or a slot conflict (different facts claiming one slot, such as two
//     tally sheets for one round), with the fleet-wide conflict id the
//     server computes too. While one is open no version wins silently. The
//     county resolves it on the server; the resolution record it authors
//     syncs down and every device applies it: the version kept becomes
//     current, or the other records of the slot are superseded. A
//     resolution that arrives before one of its versions applies when the
//     version does. Versions are replayed in hybrid-logical-clock order
//     (then author and seq), an order every replica can compute.
//   - Sync. [Device.Sync] pushes the outbox in byte-bounded batches and pulls
//     what the device's scope allows in the same HTTP round trip, verifies
//     the server's signed receipt against the local hash chain before
//     marking anything acknowledged, and retries lost requests with backoff
//     (the server is idempotent on device and seq, so a retry never
//     duplicates).
//
// # What it must not do
//
// It never deletes an outbox row, never trusts an unsigned or unverifiable
// acknowledgement, never refuses a record for breaking an election rule,
// never lets one version of a conflict win silently, never logs tokens,
// keys or record bodies, and never imports the server: the wire contract
// is package syncproto, the domain is package election. The station app and the villagesync command build on
// this package; it knows nothing of them.
package client

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
//     records (the current state of every record the device holds), remote
//     (pulled changes, kept as received) and conflicts.
//   - Capture. [Device.Put] validates a record with the election domain,
//     refuses anything outside the device's scope, then chains, signs and
//     stores the change in one transaction: when Put returns, the record is
//     durable.
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
// acknowledgement, never logs tokens, keys or record bodies, and never
// imports the server: the wire contract is package syncproto, the domain is
// package election. The station app and the villagesync command build on
// this package; it knows nothing of them.
package client

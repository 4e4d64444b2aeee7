// Package server is the central villagesync service: device enrollment,
// proof-of-possession access tokens, the one-round-trip sync (verify, check,
// store, receipt, pull), scope-checked reads, the server's own county
// authoring identity for reference data, and the service's metrics.
//
// # What it owns
//
//   - The [Service], which turns protocol messages (package syncproto) into
//     decisions. Every change a device pushes is checked here, in this order,
//     before anything is written: shape and authorship, hash chain and Ed25519
//     signatures ([syncproto.VerifyRun], CPU work done outside any store
//     transaction and in parallel for large batches), the collection and its
//     schema version, the record's fields ([election.Collection.Validate]) and
//     the author's scope ([election.Scope.CanAuthor]). One refusal refuses the
//     whole request and nothing is stored.
//   - Trust. Scope always comes from the enrolled device or from a token this
//     service signed, never from a request body, path or query. Tokens are
//     EdDSA JWTs (typ at+jwt, kid, iss, aud, exp required) obtained by signing
//     a single-use server nonce with the device key; revoking a device stops
//     its tokens at once. Nonces are stateless (a MAC over a random value and
//     an expiry): issuing one writes nothing, and only a used one is recorded.
//   - Review. Every change claims its record's slot (election.Collection.Slot)
//     on ingest, and the store turns collisions into conflicts whose ids
//     ([ConflictID]) every device computes alike. [Service.Review] lists the
//     conflicts and the rule violations ([election.Assess] over the current
//     records, rebuilt on demand when the log has moved, never on the ingest
//     path) that a scope may see; [Service.Resolve] lets the county keep one
//     version, with a reason, as a resolution record the county authority
//     signs and every device in scope pulls, audited in the same
//     transaction, or acknowledge a violation. [Service.Report] is the
//     county report (SPEC §7).
//   - The [Store] contract (store.go) that storage adapters implement:
//     server/sqlite today, server/postgres for scale-out.
//
// # What it must not do
//
// It speaks no HTTP (server/httpapi adapts it to Echo) and no SQL (the store
// adapters do). Errors a client may see are *syncproto.Error with a stable
// code; anything else is an internal error that the adapter logs and hides.
// It never logs tokens, keys, enrollment codes or record bodies.
package server

// Package syncproto is the wire contract shared by the villagesync server and
// its devices: the change envelope, its hash chain and Ed25519 signatures,
// hybrid logical clocks, the one-round-trip sync messages, signed receipts,
// opaque pull cursors and the stable error codes.
//
// It is pure: no I/O, no clocks, no storage, and it imports nothing else of
// villagesync. Everything a third party needs to talk to the server is
// described normatively in docs/protocol.md; this package is the reference
// implementation of that document and must change together with it.
package syncproto

// Package bench is the performance suite of SPEC §9, behind
// `villagesync bench`. It measures the real code end to end, in process,
// over loopback HTTP: the SQLite server store (on disk, synchronous=FULL),
// the service and its Echo router on one side, client-sdk devices on the
// other, and the season package sim generates as the data in between.
//
// Every figure is printed with its ratio to the SPEC's limit, or to a
// baseline measured in the same run (raw SQLite inserts for ingest; a zstd
// stream of the records themselves and a model of CouchDB replication for
// the bytes): the machine is shared and noisy, so an absolute number from
// another run says little. What each figure means and how it is measured is
// documented with its result type: BytesResult (bytes on the wire, round
// trips; the CouchDB model in couch.go), ShapedResult (the 2G link model in
// shaped.go), IngestResult (server ingest and its raw SQLite baseline),
// CaptureResult (capture latency) and StationResult (the station process's
// memory).
//
// The package reports; it never judges wall time in a test. Its tests
// check that a result is complete and consistent with itself, never how
// fast anything was. Nothing here is on a production path: the package
// only drives the public APIs of server, server/sqlite, server/httpapi and
// client-sdk, and must not reach into them.
package bench

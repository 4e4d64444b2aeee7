// Package election is the domain of villagesync: who may see and author what,
// the collections of records and the shape each record must have, and the
// seeded Dongliao County reference data.
//
// # What it owns
//
//   - Roles and scopes. A [Scope] (role plus administrative code) comes from an
//     enrolled device or a token, never from a request. [Scope.CanRead] and
//     [Scope.CanAuthor] decide, for a record's [Place], whether a device may
//     receive it and whether it may write it.
//   - Collections. Every record belongs to a named [Collection] whose name and
//     required fields are a public contract (SPEC §4): fields may be added,
//     never renamed or re-typed. Reference collections (county, township,
//     village, election, candidate, roll_count) are authored by the county;
//     fact collections (attendance, tally_sheet, supervision_visit, problem,
//     rectification) are authored in the field.
//   - Record validation. [Collection.Validate] refuses a malformed record
//     (missing field, wrong JSON type, bad enum value, bad code shape, unknown
//     referenced village, election or problem) and reports the [Place] the
//     record is about. It never refuses a record for breaking an election rule:
//     the signed paper sheet is the primary record, so a tally with more ballots
//     returned than issued is stored and flagged later, not rejected here.
//   - The seed dataset. [Dongliao] builds the model county deterministically:
//     the 13 real townships and 235 synthetic villages with their Party-committee
//     elections, candidates and roll counts.
//
// # What it must not do
//
// The package is pure. It performs no I/O, reads no clock (times are
// parameters or record fields), keeps no mutable global state and imports no
// other villagesync package; server, client-sdk and station depend on it, never
// the reverse. Records it does not know about are questions for a [Resolver]
// supplied by the caller (the server store or the device store).
package election

// Package election is the domain of villagesync: who may see and author what,
// the collections of records and the shape each record must have, the
// election rules a tally is checked against, the results derived from the
// facts, and the seeded Dongliao County reference data.
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
//     village, election, candidate, roll_count, role_assignment, key_village,
//     working_group) are authored by the county and are editable
//     ([Collection.Editable]): each edit carries its base version. Fact
//     collections (attendance, ballot, tally_sheet, tally_amendment,
//     approval, supervision_visit, problem, rectification, training_session,
//     returned_member) are authored in the field and append-only.
//   - Record validation. [Collection.Validate] refuses a malformed record
//     (missing field, wrong JSON type, bad enum value, bad code shape, unknown
//     referenced village, election, problem or sheet, a field a ballot may not
//     carry) and reports the [Place] the record is about. It never refuses a
//     record for breaking an election rule: the signed paper sheet is the
//     primary record, so a tally with more ballots returned than issued is
//     stored and flagged, not rejected.
//   - Conflict slots. [Collection.Slot] names the logical slot a fact claims
//     (one tally sheet per election round, one attendance per election, one
//     ballot per serial); two different facts for one slot are a conflict for
//     the county, never a silent merge.
//   - Rules. P1–P11 (Party committee, 《中国共产党基层组织选举工作条例》) and
//     V1–V12 (villagers' committee, 村民委员会组织法), each a pure function
//     ([CheckQuorum], [CheckReturned], ...) returning a [Finding]: PASS, FAIL,
//     REVIEW or NOT_APPLICABLE, a sentence in Chinese and English, and the
//     records it rests on. [Rules] lists them; docs/domain.md gives their
//     sources and how failures are treated.
//   - Derivation. [Evaluate] checks the facts of one election against every
//     rule of its type and recomputes who is elected in which round, whether
//     the village is a one-time success (一次性选举成功) and whether ballots
//     recorded one by one agree with the tally sheet. Tally amendments apply
//     on top of the sheet they cite. [RectificationStatus] derives a
//     problem's status from its events. [Warnings] runs the checks one record
//     allows at capture time.
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
// supplied by the caller (the server store or the device store). It never
// decides silently: where facts conflict or a count is missing it derives
// nothing from them and says so in a finding.
package election

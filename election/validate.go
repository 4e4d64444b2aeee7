package election

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Resolver answers questions about records the caller already holds (server
// store or device store).
type Resolver interface {
	// Place reports where an existing record is; ok=false if unknown.
	Place(collection, id string) (p Place, ok bool)
}

// ValidationError is returned by [Collection.Validate]: the record is
// malformed. Field is the offending field ("votes.C1.yes", "signers[0]"), or
// empty when the body as a whole is at fault.
type ValidationError struct {
	Collection, Field, Reason string
}

func (e *ValidationError) Error() string {
	switch {
	case e.Collection == "":
		return e.Reason
	case e.Field == "":
		return e.Collection + ": " + e.Reason
	}
	return e.Collection + "." + e.Field + ": " + e.Reason
}

// reasonMissing is the Reason of a ValidationError for a required field that
// is absent.
const reasonMissing = "required field missing"

// Validate checks a record body (a JSON object) against the collection's
// field specs and returns the Place the record is about.
//
// It refuses malformed records only: a missing required field, a wrong JSON
// type, a bad enum value, a badly shaped code or id, a duplicated field, or a
// reference to a village, election or problem that r does not know. It never
// refuses a record for breaking an election rule: returned > issued and the
// like are facts to flag later, not errors. Unknown extra fields are allowed,
// since fields may be added to a collection. A body "id" field is optional
// and, when present, must equal id.
//
// Reference collections are checked for shape only and ignore r, so the seed
// loader may pass nil. Fact collections look their references up in r; a nil
// r knows no records. An election reference resolves through r's "election"
// records or, failing that, through the shape <village>-PC|VC of its id with
// the village known to r.
//
// The error, if any, is a *ValidationError.
func (c *Collection) Validate(id string, body []byte, r Resolver) (Place, error) {
	if c == nil {
		return Place{}, &ValidationError{Reason: "unknown collection"}
	}
	p, err := c.validate(id, body, r)
	if err != nil {
		err.Collection = c.Name
		return Place{}, err
	}
	return p, nil
}

func (c *Collection) validate(id string, body []byte, r Resolver) (Place, *ValidationError) {
	if fe := c.id(id); fe != nil {
		return Place{}, fe.in("id")
	}
	if !utf8.Valid(body) {
		return Place{}, &ValidationError{Reason: "body is not valid UTF-8"}
	}
	members, err := parseObject(body)
	if err != nil {
		if dup, ok := errors.AsType[*duplicateError](err); ok {
			return Place{}, &ValidationError{Field: abbreviate(dup.name), Reason: "duplicate field"}
		}
		return Place{}, &ValidationError{Reason: "body: " + err.Error()}
	}
	rec := make(record, len(members))
	for _, m := range members {
		rec[m.name] = m.value
	}
	if c.closed {
		for _, m := range members {
			if m.name != "id" && !slices.ContainsFunc(c.fields, func(f field) bool { return f.name == m.name }) {
				return Place{}, &ValidationError{Field: abbreviate(m.name), Reason: "unknown field: " + c.Name + " records carry only " + c.fieldNames()}
			}
		}
	}
	for _, f := range c.fields {
		raw, ok := rec[f.name]
		if ok && f.optional && jsonType(raw) == "null" {
			ok = false // an optional null is an absent field
		}
		if !ok {
			if f.optional {
				continue
			}
			return Place{}, &ValidationError{Field: f.name, Reason: reasonMissing}
		}
		if fe := f.check(raw); fe != nil {
			return Place{}, fe.in(f.name)
		}
	}
	if raw, ok := rec["id"]; ok {
		s, fe := stringValue(raw)
		if fe == nil && s != id {
			fe = &fieldError{reason: fmt.Sprintf("got %s, want record id %s", quote(s), quote(id))}
		}
		if fe != nil {
			return Place{}, fe.in("id")
		}
	}
	return c.place(id, rec, r)
}

// fieldNames lists c's fields for an error message.
func (c *Collection) fieldNames() string {
	names := make([]string, len(c.fields))
	for i, f := range c.fields {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// record is a JSON object body whose fields have been checked.
type record map[string]json.RawMessage

// str returns the string field name, or "" if it is absent or not a string.
func (rec record) str(name string) string {
	s, _ := stringValue(rec[name])
	return s
}

// has reports whether the field name is present and not null.
func (rec record) has(name string) bool {
	raw, ok := rec[name]
	return ok && jsonType(raw) != "null"
}

// num returns the integer field name in decimal, or "" if it is absent or
// not an integer.
func (rec record) num(name string) string {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(rec[name])), 10, 64)
	if err != nil {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// fieldError is a problem with one field's value. path locates it inside the
// value: "" for the value itself, ".yes", "[2]".
type fieldError struct {
	path, reason string
}

func (fe *fieldError) in(name string) *ValidationError {
	return &ValidationError{Field: name + fe.path, Reason: fe.reason}
}

func (fe *fieldError) under(path string) *fieldError {
	return &fieldError{path: path + fe.path, reason: fe.reason}
}

func wrongType(raw json.RawMessage, want string) *fieldError {
	return &fieldError{reason: "got " + jsonType(raw) + ", want " + want}
}

// field is the spec of one field of a record body.
type field struct {
	name     string
	optional bool
	check    func(raw json.RawMessage) *fieldError
}

// maxCount bounds every integer field: larger numbers are not counts of
// people, ballots or rounds.
const maxCount = 1<<31 - 1

func optional(f field) field {
	f.optional = true
	return f
}

// text is a non-empty string.
func text(name string) field {
	return field{name: name, check: checkText}
}

func checkText(raw json.RawMessage) *fieldError {
	s, fe := stringValue(raw)
	if fe == nil && s == "" {
		fe = &fieldError{reason: "got empty string, want non-empty"}
	}
	return fe
}

// note is any string, possibly empty.
func note(name string) field {
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		_, fe := stringValue(raw)
		return fe
	}}
}

// code is a string of exactly n digits.
func code(name string, n int) field {
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		s, fe := stringValue(raw)
		if fe == nil && !isDigits(s, n) {
			fe = &fieldError{reason: fmt.Sprintf("got %s, want %d digits", quote(s), n)}
		}
		return fe
	}}
}

func enum(name string, values ...string) field {
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		s, fe := stringValue(raw)
		if fe != nil {
			return fe
		}
		for _, v := range values {
			if s == v {
				return nil
			}
		}
		return &fieldError{reason: fmt.Sprintf("got %s, want one of %s", quote(s), strings.Join(values, ", "))}
	}}
}

// integer is a JSON number with no fraction or exponent in [lo, hi].
func integer(name string, lo, hi int64) field {
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		return checkInt(raw, lo, hi)
	}}
}

// count is an integer ≥ 0.
func count(name string) field {
	return integer(name, 0, maxCount)
}

func checkInt(raw json.RawMessage, lo, hi int64) *fieldError {
	raw = bytes.TrimSpace(raw)
	if jsonType(raw) != "number" {
		return wrongType(raw, "integer")
	}
	// Out of int64 range, ParseInt reports ErrRange and clamps n, which the
	// bounds below then report.
	n, err := strconv.ParseInt(string(raw), 10, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return &fieldError{reason: fmt.Sprintf("got %s, want integer", abbreviate(string(raw)))}
	case n < lo:
		return &fieldError{reason: fmt.Sprintf("got %s, want at least %d", abbreviate(string(raw)), lo)}
	case n > hi:
		return &fieldError{reason: fmt.Sprintf("got %s, want at most %d", abbreviate(string(raw)), hi)}
	}
	return nil
}

func boolean(name string) field {
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		if t := jsonType(raw); t != "boolean" {
			return wrongType(raw, "boolean")
		}
		return nil
	}}
}

// date is a calendar date written YYYY-MM-DD.
func date(name string) field {
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		s, fe := stringValue(raw)
		if fe == nil {
			if _, err := time.Parse(time.DateOnly, s); err != nil {
				fe = &fieldError{reason: fmt.Sprintf("got %s, want a date YYYY-MM-DD", quote(s))}
			}
		}
		return fe
	}}
}

// timestamp is an RFC 3339 time.
func timestamp(name string) field {
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		s, fe := stringValue(raw)
		if fe == nil {
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				fe = &fieldError{reason: fmt.Sprintf("got %s, want an RFC 3339 time", quote(s))}
			}
		}
		return fe
	}}
}

// sha256Hex is a SHA-256 digest written as 64 lowercase hex digits.
func sha256Hex(name string) field {
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		s, fe := stringValue(raw)
		if fe == nil && !isLowerHex(s, 64) {
			fe = &fieldError{reason: fmt.Sprintf("got %s, want 64 lowercase hex digits (SHA-256)", quote(s))}
		}
		return fe
	}}
}

// stringList is an array of at least minItems non-empty strings.
func stringList(name string, minItems int) field {
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		if jsonType(raw) != "array" {
			return wrongType(raw, "array of strings")
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return &fieldError{reason: err.Error()}
		}
		if len(items) < minItems {
			return &fieldError{reason: fmt.Sprintf("got %d items, want at least %d", len(items), minItems)}
		}
		for i, item := range items {
			if fe := checkText(item); fe != nil {
				return fe.under("[" + strconv.Itoa(i) + "]")
			}
		}
		return nil
	}}
}

// electionRef is the id of an election, shaped <village>-PC or <village>-VC.
func electionRef(name string) field {
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		s, fe := stringValue(raw)
		if fe == nil {
			fe = electionID(s)
		}
		return fe
	}}
}

// votes maps candidate ids to {"yes", "no", "abstain"} counts.
func votes(name string) field {
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		return checkObject(raw, "object of candidate votes", func(raw json.RawMessage) *fieldError {
			members, err := parseObject(raw)
			if err != nil {
				return objectError(raw, err, "object {yes, no, abstain}")
			}
			got := make(map[string]json.RawMessage, len(members))
			for _, m := range members {
				got[m.name] = m.value
			}
			for _, k := range []string{"yes", "no", "abstain"} {
				v, ok := got[k]
				if !ok {
					return &fieldError{path: "." + k, reason: reasonMissing}
				}
				if fe := checkInt(v, 0, maxCount); fe != nil {
					return fe.under("." + k)
				}
			}
			return nil
		})
	}}
}

// markMap maps candidate ids to a ballot mark: "yes", "no" or "abstain".
func markMap(name string) field {
	mark := enum("", markValues...).check
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		return checkObject(raw, "object of marks", mark)
	}}
}

// object is a JSON object with the given member fields; members it does not
// list are allowed, as in a record body.
func object(name string, members ...field) field {
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		got, err := parseObject(raw)
		if err != nil {
			return objectError(raw, err, "object")
		}
		byName := make(map[string]json.RawMessage, len(got))
		for _, m := range got {
			byName[m.name] = m.value
		}
		for _, f := range members {
			v, ok := byName[f.name]
			if ok && f.optional && jsonType(v) == "null" {
				ok = false
			}
			if !ok {
				if f.optional {
					continue
				}
				return &fieldError{path: "." + f.name, reason: reasonMissing}
			}
			if fe := f.check(v); fe != nil {
				return fe.under("." + f.name)
			}
		}
		return nil
	}}
}

// counts maps names to counts ≥ 0.
func counts(name string) field {
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		return checkObject(raw, "object of counts", func(raw json.RawMessage) *fieldError {
			return checkInt(raw, 0, maxCount)
		})
	}}
}

// checkObject checks that raw is an object with non-empty, distinct keys and
// applies check to every value.
func checkObject(raw json.RawMessage, want string, check func(json.RawMessage) *fieldError) *fieldError {
	members, err := parseObject(raw)
	if err != nil {
		return objectError(raw, err, want)
	}
	for _, m := range members {
		if m.name == "" {
			return &fieldError{reason: "got empty key, want non-empty"}
		}
		if fe := check(m.value); fe != nil {
			return fe.under("." + abbreviate(m.name))
		}
	}
	return nil
}

func objectError(raw json.RawMessage, err error, want string) *fieldError {
	if dup, ok := errors.AsType[*duplicateError](err); ok {
		return &fieldError{path: "." + abbreviate(dup.name), reason: "duplicate field"}
	}
	return wrongType(raw, want)
}

// Record ids.

// anyID accepts any non-empty UTF-8 id.
func anyID(id string) *fieldError {
	switch {
	case id == "":
		return &fieldError{reason: "got empty id, want non-empty"}
	case !utf8.ValidString(id):
		return &fieldError{reason: "got invalid UTF-8, want a UTF-8 id"}
	}
	return nil
}

// codeID accepts a code of exactly n digits.
func codeID(n int) func(string) *fieldError {
	return func(id string) *fieldError {
		if !isDigits(id, n) {
			return &fieldError{reason: fmt.Sprintf("got %s, want %d digits", quote(id), n)}
		}
		return nil
	}
}

// electionID accepts <village>-PC or <village>-VC.
func electionID(id string) *fieldError {
	if _, _, ok := splitElectionID(id); !ok {
		return &fieldError{reason: fmt.Sprintf("got %s, want <12-digit village>-PC or -VC", quote(id))}
	}
	return nil
}

// splitElectionID splits an election id shaped <village>-PC or <village>-VC
// into the village code and the election type.
func splitElectionID(id string) (village, typ string, ok bool) {
	v, suffix, found := strings.Cut(id, "-")
	if !found || !isDigits(v, VillageCodeLen) {
		return "", "", false
	}
	switch suffix {
	case "PC":
		return v, TypePartyCommittee, true
	case "VC":
		return v, TypeVillageCommittee, true
	}
	return "", "", false
}

// Places.

func villagePlaceOf(village string) Place {
	return Place{Township: TownshipOf(village), Village: village}
}

func lookup(r Resolver, collection, id string) (Place, bool) {
	if r == nil {
		return Place{}, false
	}
	return r.Place(collection, id)
}

// villageRecordPlace places a village record at itself, after checking that
// its township field agrees with its code.
func villageRecordPlace(id string, rec record, _ Resolver) (Place, *ValidationError) {
	if t := rec.str("township"); t != TownshipOf(id) {
		return Place{}, &ValidationError{Field: "township", Reason: fmt.Sprintf("got %s, want %q (from village code)", quote(t), TownshipOf(id))}
	}
	return villagePlaceOf(id), nil
}

// electionRecordPlace places an election record at its village, after
// checking that its village and type agree with its id.
func electionRecordPlace(id string, rec record, _ Resolver) (Place, *ValidationError) {
	v, typ, _ := splitElectionID(id) // the id was checked by electionID
	if got := rec.str("village"); got != v {
		return Place{}, &ValidationError{Field: "village", Reason: fmt.Sprintf("got %s, want %q (from election id)", quote(got), v)}
	}
	if got := rec.str("type"); got != typ {
		return Place{}, &ValidationError{Field: "type", Reason: fmt.Sprintf("got %s, want %q (from election id)", quote(got), typ)}
	}
	return villagePlaceOf(v), nil
}

// electionShapePlace places a reference record at the village named by the
// shape of its "election" field.
func electionShapePlace(_ string, rec record, _ Resolver) (Place, *ValidationError) {
	v, _, _ := splitElectionID(rec.str("election")) // checked by electionRef
	return villagePlaceOf(v), nil
}

// electionPlace places a fact at the village of the election it names.
func electionPlace(_ string, rec record, r Resolver) (Place, *ValidationError) {
	id := rec.str("election")
	if p, ok := lookup(r, "election", id); ok {
		return p, nil
	}
	if v, _, ok := splitElectionID(id); ok {
		if _, ok := lookup(r, "village", v); ok {
			return villagePlaceOf(v), nil
		}
	}
	return Place{}, &ValidationError{Field: "election", Reason: "unknown election " + quote(id)}
}

// villagePlace places a fact at the village it names.
func villagePlace(_ string, rec record, r Resolver) (Place, *ValidationError) {
	v := rec.str("village")
	if _, ok := lookup(r, "village", v); !ok {
		return Place{}, &ValidationError{Field: "village", Reason: "unknown village " + quote(v)}
	}
	return villagePlaceOf(v), nil
}

// problemPlace places a fact where the problem it names is.
func problemPlace(_ string, rec record, r Resolver) (Place, *ValidationError) {
	id := rec.str("problem")
	p, ok := lookup(r, "problem", id)
	if !ok {
		return Place{}, &ValidationError{Field: "problem", Reason: "unknown problem " + quote(id)}
	}
	return p, nil
}

// townshipPlace places a fact at the township it names.
func townshipPlace(_ string, rec record, r Resolver) (Place, *ValidationError) {
	t := rec.str("township")
	if _, ok := lookup(r, "township", t); !ok {
		return Place{}, &ValidationError{Field: "township", Reason: "unknown township " + quote(t)}
	}
	return Place{Township: t}, nil
}

// amendmentFields are the tally sheet fields a tally amendment may correct.
var amendmentFields = []string{"issued", "returned", "valid", "invalid", "votes", "write_ins", "elected"}

// amendmentPlace places a tally amendment where the sheet it corrects is,
// after checking that it corrects at least one field.
func amendmentPlace(_ string, rec record, r Resolver) (Place, *ValidationError) {
	if !slices.ContainsFunc(amendmentFields, rec.has) {
		return Place{}, &ValidationError{Reason: "no corrected field: want at least one of " + strings.Join(amendmentFields, ", ")}
	}
	id := rec.str("sheet")
	p, ok := lookup(r, "tally_sheet", id)
	if !ok {
		return Place{}, &ValidationError{Field: "sheet", Reason: "unknown tally sheet " + quote(id)}
	}
	return p, nil
}

// workingGroupPlace places a working group at the village or the township
// it names: exactly one of the two.
func workingGroupPlace(_ string, rec record, _ Resolver) (Place, *ValidationError) {
	v, t := rec.has("village"), rec.has("township")
	switch {
	case v && t:
		return Place{}, &ValidationError{Field: "township", Reason: "got both village and township, want one of them"}
	case v:
		return villagePlaceOf(rec.str("village")), nil
	case t:
		return Place{Township: rec.str("township")}, nil
	}
	return Place{}, &ValidationError{Field: "village", Reason: reasonMissing + ": want village or township"}
}

// JSON.

type member struct {
	name  string
	value json.RawMessage
}

type duplicateError struct{ name string }

func (e *duplicateError) Error() string { return "duplicate field " + quote(e.name) }

// parseObject decodes data, which must be exactly one JSON object, into its
// members in document order. A name given twice is a *duplicateError: two
// readers of the same record must never see different values.
func parseObject(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("got %s, want object", tokenType(tok))
	}
	var members []member
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("invalid JSON: object key is not a string")
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		if seen[name] {
			return nil, &duplicateError{name: name}
		}
		seen[name] = true
		members = append(members, member{name: name, value: bytes.TrimSpace(value)})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the object")
	}
	return members, nil
}

// tokenType names the JSON type that starts with tok.
func tokenType(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '[' {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

// jsonType names the JSON type of a well-formed value.
func jsonType(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func stringValue(raw json.RawMessage) (string, *fieldError) {
	if jsonType(raw) != "string" {
		return "", wrongType(raw, "string")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &fieldError{reason: err.Error()}
	}
	return s, nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// maxEcho is how much of a bad value an error message repeats.
const maxEcho = 64

// abbreviate shortens s to at most maxEcho runes for an error message.
func abbreviate(s string) string {
	if utf8.RuneCountInString(s) <= maxEcho {
		return s
	}
	return string([]rune(s)[:maxEcho]) + "…"
}

// quote is abbreviate in Go string syntax.
func quote(s string) string {
	return strconv.Quote(abbreviate(s))
}

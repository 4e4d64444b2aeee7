package election

import (
	"fmt"
	"slices"
)

// Role is what a device or person does in the election.
type Role string

const (
	RoleStation    Role = "station"    // one village
	RoleSupervisor Role = "supervisor" // one township
	RoleCounty     Role = "county"     // whole county
	RoleObserver   Role = "observer"   // read-only reports
)

// Lengths of the national statistics codes used by this package.
const (
	CountyCodeLen   = 6  // 220422
	TownshipCodeLen = 9  // 220422100
	VillageCodeLen  = 12 // 220422100201
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleStation, RoleSupervisor, RoleCounty, RoleObserver:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q", s)
}

// codeLen is the length of the code that scopes r, or 0 for an unknown role.
func (r Role) codeLen() int {
	switch r {
	case RoleStation:
		return VillageCodeLen
	case RoleSupervisor:
		return TownshipCodeLen
	case RoleCounty, RoleObserver:
		return CountyCodeLen
	}
	return 0
}

// Place locates a record: the township and village it is about. Empty fields
// mean wider: Place{} is county-wide, Place{Township: t} is township-wide.
// A place with a village always carries that village's township too, as the
// places [Collection.Validate] returns do; a place whose village is not in its
// township lies inside no station's or supervisor's scope.
type Place struct {
	Township, Village string
}

// consistent reports whether p's village, if any, lies in p's township.
func (p Place) consistent() bool {
	return p.Village == "" || TownshipOf(p.Village) == p.Township
}

// TownshipOf returns the township code of a 12-digit village code: its first
// 9 digits. It returns "" if village is not 12 ASCII digits.
func TownshipOf(village string) string {
	if !isDigits(village, VillageCodeLen) {
		return ""
	}
	return village[:TownshipCodeLen]
}

// Scope is what one device or person may see and author. It comes from the
// enrolled device or the token, never from a request.
//
// Code is the 12-digit village code for a station, the 9-digit township code
// for a supervisor, and the 6-digit county code for county and observer.
type Scope struct {
	Role Role
	Code string
}

// Validate checks that s names a known role and that its code has the shape
// that role needs. Whether the code exists is for the caller to check.
func (s Scope) Validate() error {
	n := s.Role.codeLen()
	if n == 0 {
		return fmt.Errorf("invalid scope: unknown role %q", s.Role)
	}
	if !isDigits(s.Code, n) {
		return fmt.Errorf("invalid scope: %s code: got %q, want %d digits", s.Role, s.Code, n)
	}
	return nil
}

// CanRead reports whether s may receive a record of collection located at p.
//
// County and observer read everything. A supervisor reads everything in its
// township plus county-wide records. A station reads everything about its
// village plus two wider records: its own township's "township" record and
// the "county" record. An invalid scope reads nothing.
func (s Scope) CanRead(collection string, p Place) bool {
	if s.Validate() != nil {
		return false
	}
	switch s.Role {
	case RoleCounty, RoleObserver:
		return true
	case RoleSupervisor:
		return p == Place{} || s.contains(p)
	case RoleStation:
		switch {
		case s.contains(p):
			return true
		case collection == "township":
			return p == Place{Township: TownshipOf(s.Code)}
		case collection == "county":
			return p == Place{}
		}
	}
	return false
}

// CanAuthor reports whether s may write a record of collection located at p:
// the role must be among the collection's authors and p must lie inside the
// scope. A station authors only about its own village, a supervisor only
// inside its township, the county anywhere; an observer never authors.
func (s Scope) CanAuthor(collection string, p Place) bool {
	if s.Validate() != nil {
		return false
	}
	c, ok := LookupCollection(collection)
	if !ok || !slices.Contains(c.Authors, s.Role) {
		return false
	}
	return s.contains(p)
}

// contains reports whether p lies inside s: for a station, p is about its
// village; for a supervisor, p is in its township (the township itself or one
// of its villages); for the county, anywhere. Observers contain nothing.
// A place whose village is not in its township is inside no station or
// supervisor scope.
func (s Scope) contains(p Place) bool {
	switch s.Role {
	case RoleCounty:
		return true
	case RoleSupervisor:
		return p.Township == s.Code && p.consistent()
	case RoleStation:
		return p.Village == s.Code && p.consistent()
	}
	return false
}

// isDigits reports whether s is exactly n ASCII digits.
func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

package election_test

import (
	"testing"

	"villagesync/election"
)

var (
	station    = election.Scope{Role: election.RoleStation, Code: "220422100201"}
	supervisor = election.Scope{Role: election.RoleSupervisor, Code: "220422100"}
	county     = election.Scope{Role: election.RoleCounty, Code: "220422"}
	observer   = election.Scope{Role: election.RoleObserver, Code: "220422"}

	ownVillage     = election.Place{Township: "220422100", Village: "220422100201"}
	siblingVillage = election.Place{Township: "220422100", Village: "220422100202"} // same township
	foreignVillage = election.Place{Township: "220422101", Village: "220422101203"} // another township
	ownTownship    = election.Place{Township: "220422100"}
	otherTownship  = election.Place{Township: "220422101"}
	countyWide     = election.Place{}
	// A place whose village is not in its township.
	inconsistent = election.Place{Township: "220422101", Village: "220422100201"}
)

func TestParseRole(t *testing.T) {
	for _, r := range []election.Role{election.RoleStation, election.RoleSupervisor, election.RoleCounty, election.RoleObserver} {
		got, err := election.ParseRole(string(r))
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v; want %q, nil", r, got, err, r)
		}
	}
	for _, s := range []string{"", "Station", "admin", " county"} {
		if got, err := election.ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q) = %q, nil; want an error", s, got)
		}
	}
}

func TestScopeValidate(t *testing.T) {
	tests := []struct {
		name  string
		scope election.Scope
		ok    bool
	}{
		{"Station", station, true},
		{"Supervisor", supervisor, true},
		{"County", county, true},
		{"Observer", observer, true},
		{"StationTownshipCode", election.Scope{Role: election.RoleStation, Code: "220422100"}, false},
		{"SupervisorVillageCode", election.Scope{Role: election.RoleSupervisor, Code: "220422100201"}, false},
		{"CountyTownshipCode", election.Scope{Role: election.RoleCounty, Code: "220422100"}, false},
		{"ObserverEmptyCode", election.Scope{Role: election.RoleObserver}, false},
		{"NonDigits", election.Scope{Role: election.RoleStation, Code: "22042210020x"}, false},
		{"FullWidthDigits", election.Scope{Role: election.RoleCounty, Code: "２２０４２２"}, false},
		{"UnknownRole", election.Scope{Role: "admin", Code: "220422"}, false},
		{"EmptyRole", election.Scope{Code: "220422"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.scope.Validate()
			if got := err == nil; got != tt.ok {
				t.Errorf("%+v.Validate() = %v, want ok=%v", tt.scope, err, tt.ok)
			}
		})
	}
}

func TestTownshipOf(t *testing.T) {
	tests := []struct{ village, want string }{
		{"220422100201", "220422100"},
		{"220422203212", "220422203"},
		{"", ""},
		{"220422100", ""},
		{"2204221002011", ""},
		{"22042210020a", ""},
	}
	for _, tt := range tests {
		if got := election.TownshipOf(tt.village); got != tt.want {
			t.Errorf("TownshipOf(%q) = %q, want %q", tt.village, got, tt.want)
		}
	}
}

func TestScopeCanRead(t *testing.T) {
	tests := []struct {
		name       string
		scope      election.Scope
		collection string
		place      election.Place
		want       bool
	}{
		{"StationOwnVillage", station, "tally_sheet", ownVillage, true},
		{"StationOwnVillageProblem", station, "problem", ownVillage, true},
		{"StationOwnVillageRecord", station, "village", ownVillage, true},
		{"StationSiblingVillage", station, "tally_sheet", siblingVillage, false},
		{"StationForeignVillage", station, "problem", foreignVillage, false},
		{"StationOwnTownshipRecord", station, "township", ownTownship, true},
		{"StationOtherTownshipRecord", station, "township", otherTownship, false},
		{"StationOwnTownshipOtherCollection", station, "problem", ownTownship, false},
		{"StationCountyRecord", station, "county", countyWide, true},
		{"StationCountyWideOtherCollection", station, "training_session", countyWide, false},
		{"StationInconsistentPlace", station, "tally_sheet", inconsistent, false},

		{"SupervisorOwnVillage", supervisor, "tally_sheet", ownVillage, true},
		{"SupervisorSiblingVillage", supervisor, "supervision_visit", siblingVillage, true},
		{"SupervisorOwnTownship", supervisor, "township", ownTownship, true},
		{"SupervisorForeignVillage", supervisor, "tally_sheet", foreignVillage, false},
		{"SupervisorOtherTownship", supervisor, "township", otherTownship, false},
		{"SupervisorCountyWide", supervisor, "county", countyWide, true},
		{"SupervisorInconsistentPlace", supervisor, "problem", election.Place{Township: "220422100", Village: "220422101203"}, false},

		{"CountyForeignVillage", county, "tally_sheet", foreignVillage, true},
		{"CountyTownship", county, "township", otherTownship, true},
		{"CountyWide", county, "county", countyWide, true},

		{"ObserverVillage", observer, "tally_sheet", foreignVillage, true},
		{"ObserverCountyWide", observer, "county", countyWide, true},

		{"InvalidScope", election.Scope{Role: election.RoleStation, Code: "220422100"}, "tally_sheet", ownVillage, false},
		{"UnknownRole", election.Scope{Role: "admin", Code: "220422"}, "county", countyWide, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.scope.CanRead(tt.collection, tt.place); got != tt.want {
				t.Errorf("%+v.CanRead(%q, %+v) = %v, want %v", tt.scope, tt.collection, tt.place, got, tt.want)
			}
		})
	}
}

func TestScopeCanAuthor(t *testing.T) {
	tests := []struct {
		name       string
		scope      election.Scope
		collection string
		place      election.Place
		want       bool
	}{
		{"StationOwnVillageTally", station, "tally_sheet", ownVillage, true},
		{"StationOwnVillageAttendance", station, "attendance", ownVillage, true},
		{"StationOwnVillageRectification", station, "rectification", ownVillage, true},
		{"StationSiblingVillage", station, "tally_sheet", siblingVillage, false},
		{"StationForeignVillage", station, "rectification", foreignVillage, false},
		{"StationOwnTownship", station, "rectification", ownTownship, false},
		{"StationNotAuthorOfProblem", station, "problem", ownVillage, false},
		{"StationNotAuthorOfVisit", station, "supervision_visit", ownVillage, false},
		{"StationNoReference", station, "village", ownVillage, false},
		{"StationInconsistentPlace", station, "tally_sheet", inconsistent, false},

		{"SupervisorOwnTownshipVisit", supervisor, "supervision_visit", siblingVillage, true},
		{"SupervisorOwnTownshipProblem", supervisor, "problem", ownVillage, true},
		{"SupervisorOwnTownshipRectification", supervisor, "rectification", ownVillage, true},
		{"SupervisorTownshipWide", supervisor, "problem", ownTownship, true},
		{"SupervisorOtherTownship", supervisor, "problem", foreignVillage, false},
		{"SupervisorCountyWide", supervisor, "problem", countyWide, false},
		{"SupervisorNotAuthorOfTally", supervisor, "tally_sheet", ownVillage, false},
		{"SupervisorNoReference", supervisor, "township", ownTownship, false},

		{"CountyReference", county, "village", foreignVillage, true},
		{"CountyCountyRecord", county, "county", countyWide, true},
		{"CountyProblem", county, "problem", foreignVillage, true},
		{"CountyNotAuthorOfTally", county, "tally_sheet", ownVillage, false},

		{"ObserverNever", observer, "problem", ownVillage, false},
		{"ObserverNoReference", observer, "county", countyWide, false},

		{"UnknownCollection", county, "ballot_box", ownVillage, false},
		{"InvalidScope", election.Scope{Role: election.RoleCounty, Code: "22042"}, "village", ownVillage, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.scope.CanAuthor(tt.collection, tt.place); got != tt.want {
				t.Errorf("%+v.CanAuthor(%q, %+v) = %v, want %v", tt.scope, tt.collection, tt.place, got, tt.want)
			}
		})
	}
}

func TestObserverAuthorsNothing(t *testing.T) {
	for _, c := range election.Collections() {
		for _, p := range []election.Place{ownVillage, ownTownship, countyWide} {
			if observer.CanAuthor(c.Name, p) {
				t.Errorf("observer.CanAuthor(%q, %+v) = true, want false", c.Name, p)
			}
		}
	}
}

package station

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"villagesync/election"
	"villagesync/internal/webui/webuitest"
	"villagesync/syncproto"
)

func TestCatalogues(t *testing.T) { webuitest.CheckCatalogues(t, zhCN, en) }

// TestCatalogueCoversUse checks that every message the pages ask for is in
// both catalogues: the keys in the templates and in the Go code, the error
// codes, the refusals and navigation, and the values the device holds.
func TestCatalogueCoversUse(t *testing.T) {
	keys := webuitest.TemplateKeys(t, templateFS, "templates", 150)
	// Keys the templates build: (print "records.kind_" .Kind) and
	// (print "state." .State).
	keys = append(keys, "records.kind_reference", "records.kind_fact", "state.pending", "state.synced", "state.pulled")

	// Every string literal of the Go code that looks like a key is one.
	goKey := regexp.MustCompile(`"([a-z_]+\.[a-z_]+)"`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "catalogue.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goKey.FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1])
			n++
		}
	}
	if n < 50 {
		t.Fatalf("found %d message keys in the Go code: the pattern misses them", n)
	}

	for _, c := range syncproto.Codes {
		keys = append(keys, "err."+string(c))
	}
	for _, r := range []*refusal{errCrossOrigin, errCSRF, errRole, errNoPage, errBadForm, errFormTooBig, errNoElection, errBadID, errNoCollection} {
		keys = append(keys, r.Summary, r.Detail)
	}
	for _, n := range nav {
		keys = append(keys, n.Key)
	}
	for _, r := range []election.Role{election.RoleStation, election.RoleSupervisor, election.RoleCounty, election.RoleObserver} {
		keys = append(keys, "role."+string(r))
	}
	for _, o := range []election.Outcome{election.Pass, election.Fail, election.Review, election.NotApplicable} {
		keys = append(keys, "outcome."+string(o))
	}
	lookups := map[string][]string{
		"mark.":    {election.MarkYes, election.MarkNo, election.MarkAbstain},
		"kind.":    {election.RoundFormal, election.RoundAdditional, election.RoundRerun, election.RoundTieBreak, election.RoundSecretary},
		"etype.":   {election.TypePartyCommittee, election.TypeVillageCommittee},
		"estatus.": {election.StatusDraft, election.StatusLocked, election.StatusHeld, election.StatusCertified},
		"edu.": {election.EducationPrimary, election.EducationJuniorHigh, election.EducationSeniorHigh,
			election.EducationCollege, election.EducationBachelor, election.EducationPostgraduate},
		"sex.":      {election.SexMale, election.SexFemale},
		"rect.":     rectificationStatuses,
		"source.":   problemSources,
		"conflict.": {election.ConflictRecord, election.ConflictSlot},
	}
	for prefix, values := range lookups {
		for _, v := range values {
			keys = append(keys, prefix+v)
		}
	}
	for _, c := range election.Collections() {
		keys = append(keys, "coll."+c.Name)
	}
	for _, k := range slices.Compact(slices.Sorted(slices.Values(keys))) {
		if _, ok := zhCN[k]; !ok {
			t.Errorf("key %q is used but not in the Chinese catalogue", k)
		}
		if _, ok := en[k]; !ok {
			t.Errorf("key %q is used but not in the English catalogue", k)
		}
	}
}

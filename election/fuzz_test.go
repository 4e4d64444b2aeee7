package election_test

import (
	"errors"
	"testing"

	"villagesync/election"
)

func FuzzValidate(f *testing.F) {
	f.Add("tally_sheet", "t1", []byte(tallyOK))
	f.Add("attendance", "a1", []byte(`{"election":"220422100202-PC","eligible":58,"present":55}`))
	f.Add("rectification", "r1", []byte(`{"problem":"p-sibling","status":"OPEN","notes":""}`))
	f.Add("election", "220422100201-PC", []byte(`{"village":"220422100201","type":"PARTY_COMMITTEE","seats":3,"date":"2026-03-07","status":"LOCKED","candidates":["a"]}`))
	f.Add("village", "220422100201", []byte(`{"township":"220422100","name":"琥砚村","key_village":true}`))
	f.Add("problem", "p1", []byte(`{"village":"220422100201","village":"220422101203"}`))
	f.Add("county", "220422", []byte(`{"name":"东辽县"} `))
	f.Add("nope", "", []byte(`[1,{"a":null}]`))

	collections := election.Collections()
	f.Fuzz(func(t *testing.T, name, id string, body []byte) {
		c, ok := election.LookupCollection(name)
		if !ok {
			// Spread unknown names over every collection.
			c = collections[len(name)%len(collections)]
		}
		p, err := c.Validate(id, body, known)
		if err != nil {
			var ve *election.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate: got %T %v, want *ValidationError", err, err)
			}
			if p != (election.Place{}) {
				t.Fatalf("Validate: got place %+v with error %v, want zero Place", p, err)
			}
			return
		}
		if p.Village != "" && election.TownshipOf(p.Village) != p.Township {
			t.Fatalf("Validate: got inconsistent place %+v", p)
		}
	})
}

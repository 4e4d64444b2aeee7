package station

import (
	"net/http"

	client "villagesync/client-sdk"
	"villagesync/election"
)

// maxRecordRows bounds the records one page lists.
const maxRecordRows = 500

var errNoCollection = &refusal{Status: http.StatusNotFound, Summary: "err.not_found", Detail: "refuse.no_collection"}

// collectionTab is one collection in the records overview.
type collectionTab struct {
	Name    string
	Kind    string // "reference" or "fact"
	Count   int
	Pending int
	Href    string
}

// recordRow is one record on the records page.
type recordRow struct {
	client.Record
	State string // pending, synced or pulled
}

// recordsData is the records page.
type recordsData struct {
	Tabs       []collectionTab
	Collection string
	Records    []recordRow
	Total      int
	Shown      int
}

// recordsPage is GET /records: how many records of each collection the
// device holds and how many are pending; with ?collection=, its records
// with their sync and conflict state.
func (u *UI) recordsPage(r *request) error {
	name := r.query("collection")
	if name != "" {
		if _, ok := election.LookupCollection(name); !ok {
			return errNoCollection
		}
	}
	data := recordsData{Collection: name}
	for _, c := range election.Collections() {
		recs, err := u.d.List(r.ctx, c.Name)
		if err != nil {
			return err
		}
		tab := collectionTab{Name: c.Name, Kind: c.Kind.String(), Count: len(recs), Href: href("/records", "collection", c.Name)}
		for _, rec := range recs {
			if rec.Pending {
				tab.Pending++
			}
		}
		if c.Name == name {
			data.Total = len(recs)
			for _, rec := range recs[:min(len(recs), maxRecordRows)] {
				data.Records = append(data.Records, recordRow{Record: rec, State: recordState(rec, u.d.ID())})
			}
			data.Shown = len(data.Records)
		}
		if tab.Count > 0 || c.Name == name {
			data.Tabs = append(data.Tabs, tab)
		}
	}
	return u.render(r, "records", "records.title", "/records", data)
}

// conflictsPage is GET /conflicts: the open conflicts the device holds,
// each with its versions. The county resolves them; the page only shows.
func (u *UI) conflictsPage(r *request) error {
	cs, err := u.d.Conflicts(r.ctx)
	if err != nil {
		return err
	}
	return u.render(r, "conflicts", "conflicts.title", "/conflicts", struct {
		Conflicts []client.Conflict
		Self      string
	}{cs, u.d.ID()})
}

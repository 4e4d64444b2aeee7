package web

import (
	"net/url"
	"slices"
	"strings"

	"villagesync/election"
)

// Query parameters of the filters above the long lists. A state-changing
// form inside a filtered list carries them as hidden fields, so that the
// page it leads back to is filtered alike.
const (
	filterTownship = "township"
	filterStatus   = "status"
	filterQuery    = "q"
)

// filterKeys are the filter parameters, in the order forms carry them.
var filterKeys = []string{filterTownship, filterStatus, filterQuery}

// maxQueryLen bounds the free-text search, in characters; longer input is
// cut.
const maxQueryLen = 64

// listFilter is the filter form above a long table and what it chose.
//
// It only hides rows of what the Backend already returned for the
// session's principal: a parameter can narrow the list, never widen it. A
// township or status the page does not offer is dropped, and the list is
// shown as without it.
type listFilter struct {
	Action   string // the page's path, where the form is sent
	Township string // a township the page offers, "" = all
	// Status is one of Statuses, "" = all. On a page whose form does not
	// choose it (the review queue), it is the status the page shows,
	// carried along by the form and filtering nothing here.
	Status    string
	Query     string   // the search, trimmed and bounded
	Townships []option // the township select; nil hides it (one township or none)
	Statuses  []option // the status select; nil hides it
	Search    bool     // whether the page offers the search box
	Shown     int      // rows shown
	Total     int      // rows the Backend returned

	townships []string // every township the page offers
	query     string   // Query, lowercased
}

// newListFilter reads the filter of r's page at action from its
// parameters: the query of a GET, the fields of a POST (a form shown again
// after an error). The townships offered are those of pl, the places r's
// principal may see; the statuses those given. It records the filter's
// fields on r, for the language switch.
func newListFilter(r *request, pl *places, action string, statuses []option, search bool) *listFilter {
	f := &listFilter{Action: action, Statuses: statuses, Search: search}
	for _, t := range pl.townships {
		f.townships = append(f.townships, t.Code)
		f.Townships = append(f.Townships, option{Value: t.Code, Label: t.Name + " (" + t.Code + ")"})
	}
	if len(f.Townships) < 2 {
		f.Townships = nil
	}
	if v := r.param(filterTownship); slices.Contains(f.townships, v) {
		f.Township = v
	}
	if v := r.param(filterStatus); slices.ContainsFunc(statuses, func(o option) bool { return o.Value == v }) {
		f.Status = v
	}
	if search {
		f.Query = boundQuery(r.param(filterQuery))
		f.query = strings.ToLower(f.Query)
	}
	r.filters = f.Fields()
	return f
}

// boundQuery trims a search and cuts it to maxQueryLen characters.
func boundQuery(s string) string {
	s = strings.TrimSpace(s)
	n := 0
	for i := range s {
		if n == maxQueryLen {
			return strings.TrimSpace(s[:i])
		}
		n++
	}
	return s
}

// match reports whether a row of the given scope (a place code) and status
// passes the filter, and counts it. The search matches any of text,
// ignoring case.
func (f *listFilter) match(scope, status string, text ...string) bool {
	f.Total++
	if f.Township != "" && !inTownship(scope, f.Township) {
		return false
	}
	if f.Statuses != nil && f.Status != "" && status != f.Status {
		return false
	}
	if f.query != "" && !slices.ContainsFunc(text, func(s string) bool { return strings.Contains(strings.ToLower(s), f.query) }) {
		return false
	}
	f.Shown++
	return true
}

// inTownship reports whether the place code lies in township: the
// township itself or one of its villages. The county lies in none.
func inTownship(code, township string) bool {
	return code == township || election.TownshipOf(code) == township
}

// MaxQueryLen is the bound of the search box.
func (f *listFilter) MaxQueryLen() int { return maxQueryLen }

// Active reports whether the form narrows the list.
func (f *listFilter) Active() bool {
	return f.Township != "" || f.Query != "" || f.Statuses != nil && f.Status != ""
}

// field is a named value of a query or a form.
type field struct {
	Name, Value string
}

// Fields are the filter's values, the empty ones left out: the hidden
// fields of a form inside the list.
func (f *listFilter) Fields() []field {
	var out []field
	for _, fd := range []field{{filterTownship, f.Township}, {filterStatus, f.Status}, {filterQuery, f.Query}} {
		if fd.Value != "" {
			out = append(out, fd)
		}
	}
	return out
}

// ClearHref is the page without the choices of the form; a status the
// form does not choose (the review queue's) is kept.
func (f *listFilter) ClearHref() string {
	if f.Statuses == nil && f.Status != "" {
		return href(f.Action, field{filterStatus, f.Status})
	}
	return f.Action
}

// href is the page at action with the query fields.
func href(action string, fields ...field) string {
	q := make(url.Values, len(fields))
	for _, fd := range fields {
		q.Set(fd.Name, fd.Value)
	}
	if len(q) == 0 {
		return action
	}
	return action + "?" + q.Encode()
}

// carriedFilters are the filter fields a POST form carried, bounded, to
// add to the page it redirects to.
func carriedFilters(r *request) url.Values {
	q := url.Values{}
	for _, k := range filterKeys {
		if v := boundQuery(r.postValue(k)); v != "" {
			q.Set(k, v)
		}
	}
	return q
}

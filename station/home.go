package station

import (
	"errors"
	"io"
	"net"
	"net/url"
	"strings"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/syncproto"
)

// syncView is what one press of the sync button did: what moved, and the
// error if the sync did not finish.
type syncView struct {
	Report  client.Report
	Failed  bool
	Summary string
	Detail  string
	ErrorID string
}

// homeView is the home page: the device's sync state.
type homeView struct {
	Status    client.Status
	ScopeName string
	// Township of a station's village, "" for other roles.
	Township     string
	TownshipName string
	Sync         *syncView
}

// home is GET /: the device's sync state and the sync button.
func (u *UI) home(r *request) error {
	return u.renderHome(r, nil)
}

func (u *UI) renderHome(r *request, sv *syncView) error {
	st, err := u.d.Status(r.ctx)
	if err != nil {
		return err
	}
	pl, err := u.places(r.ctx)
	if err != nil {
		return err
	}
	hv := homeView{Status: st, ScopeName: pl.name(st.Scope), Sync: sv}
	if t := election.TownshipOf(st.Scope); t != "" {
		hv.Township, hv.TownshipName = t, pl.name(t)
	}
	return u.render(r, "home", "home.title", "/", hv)
}

// sync is POST /sync: one sync with the server, then the home page with
// what moved or, in plain words, why it did not.
func (u *UI) sync(r *request) error {
	r.back = "/"
	rep, err := u.d.Sync(r.ctx)
	sv := &syncView{Report: rep}
	if err != nil {
		sv.Failed = true
		sv.Summary, sv.Detail, sv.ErrorID = u.describeSync(r, err)
	}
	return u.renderHome(r, sv)
}

// describeSync says why a sync failed, for an operator: offline is the
// common case and nothing to worry about, since every captured record is
// already durable on the laptop.
func (u *UI) describeSync(r *request, err error) (summary, detail, errorID string) {
	l := r.lang
	if offline(err) {
		return l.Msg("sync.offline"), "", ""
	}
	e, ok := errors.AsType[*syncproto.Error](err)
	if !ok {
		id := strings.ToLower(newID()[:8])
		u.log.ErrorContext(r.ctx, "sync failed", logErrorID, id, logErr, err)
		return l.Msg("sync.failed"), "", id
	}
	switch e.Code {
	case syncproto.CodeUnavailable, syncproto.CodeInternal, syncproto.CodeRateLimited:
		return l.Msg("sync.busy"), e.Message, ""
	case syncproto.CodeDeviceRevoked:
		return l.Msg("sync.revoked"), e.Message, ""
	case syncproto.CodeUnauthenticated, syncproto.CodeTokenExpired, syncproto.CodeBadSignature, syncproto.CodeNonceInvalid:
		return l.Msg("sync.refused"), e.Message, ""
	}
	return l.ErrorSummary(e.Code) + l.Msg("sync.kept"), e.Message, ""
}

// offline reports whether err is a failure to reach the server at all:
// no route, connection refused or reset, a timeout, a torn response.
func offline(err error) bool {
	if _, ok := errors.AsType[*url.Error](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF)
}

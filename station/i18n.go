package station

import (
	"fmt"
	"time"

	"villagesync/election"
	"villagesync/internal/webui"
)

// lang is one language of the station's pages: the shared formatting of
// webui.Lang and the names of the values the device holds.
type lang struct{ *webui.Lang }

// languages are the languages by code.
var languages = map[string]*lang{
	"zh": {webui.Chinese(zhCN)},
	"en": {webui.English(en)},
}

// Mark names a ballot mark: yes, no, abstain.
func (l *lang) Mark(m string) string { return l.Lookup("mark.", m) }

// RoundKind names the kind of a round: FORMAL, ADDITIONAL...
func (l *lang) RoundKind(k string) string { return l.Lookup("kind.", k) }

// ElectionType names an election type.
func (l *lang) ElectionType(t string) string { return l.Lookup("etype.", t) }

// ElectionStatus names an election status.
func (l *lang) ElectionStatus(s string) string { return l.Lookup("estatus.", s) }

// Education names an education level.
func (l *lang) Education(e string) string { return l.Lookup("edu.", e) }

// Sex names a sex.
func (l *lang) Sex(s string) string { return l.Lookup("sex.", s) }

// Rectification names a rectification status.
func (l *lang) Rectification(s string) string { return l.Lookup("rect.", s) }

// Source names the source of a problem.
func (l *lang) Source(s string) string { return l.Lookup("source.", s) }

// Collection names a collection.
func (l *lang) Collection(c string) string { return l.Lookup("coll.", c) }

// Conflict names a kind of conflict.
func (l *lang) Conflict(k string) string { return l.Lookup("conflict.", k) }

// Millis writes a Unix time in milliseconds as Time does.
func (l *lang) Millis(ms int64) string {
	if ms == 0 {
		return ""
	}
	return l.Time(time.UnixMilli(ms))
}

// Offset says how far the server's clock is from the laptop's, given in
// milliseconds (server minus laptop).
func (l *lang) Offset(ms int64) string {
	d := (time.Duration(ms) * time.Millisecond).Round(time.Second)
	switch {
	case d == 0:
		return l.Msg("clock.same")
	case d > 0:
		return l.F("clock.ahead", d.String())
	}
	return l.F("clock.behind", (-d).String())
}

// Bytes writes a size in bytes.
func (l *lang) Bytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// Finding writes a rule finding's message in the page's language.
func (l *lang) Finding(f election.Finding) string { return l.Pick(f.Message, f.MessageEN) }

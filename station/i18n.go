package station

import (
	"fmt"
	"time"

	"villagesync/election"
	"villagesync/syncproto"
)

// defaultLang is the language of an operator who has not chosen one.
const defaultLang = "zh"

// timeLayout is how the pages write a time, in China Standard Time.
const timeLayout = "2006-01-02 15:04"

// shanghai is the zone times are shown and typed in: Asia/Shanghai, or a
// fixed UTC+8 where the system has no time zone database (China has kept
// UTC+8 without daylight saving since 1991).
var shanghai = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
}()

// lang is one language of the pages: its catalogue and the formatting the
// templates call.
type lang struct {
	Code  string // the ?lang= value: "zh" or "en"
	Tag   string // the <html lang> value
	Other string // the ?lang= value of the other language
	msgs  map[string]string
}

// languages are the languages by code.
var languages = map[string]*lang{
	"zh": {Code: "zh", Tag: "zh-CN", Other: "en", msgs: zhCN},
	"en": {Code: "en", Tag: "en", Other: "zh", msgs: en},
}

// T returns the message key, or an error (which stops the template) if the
// catalogue has no such key.
func (l *lang) T(key string) (string, error) {
	if m, ok := l.msgs[key]; ok {
		return m, nil
	}
	return "", fmt.Errorf("no %s message %q", l.Code, key)
}

// Msg returns the message key, or the key itself if there is none.
func (l *lang) Msg(key string) string {
	if m, ok := l.msgs[key]; ok {
		return m
	}
	return key
}

// F formats the message key with args.
func (l *lang) F(key string, args ...any) string { return fmt.Sprintf(l.Msg(key), args...) }

// lookup translates a value under prefix, and shows an unknown value as it
// is.
func (l *lang) lookup(prefix, value string) string {
	if m, ok := l.msgs[prefix+value]; ok {
		return m
	}
	return value
}

// Role names a role.
func (l *lang) Role(r election.Role) string { return l.lookup("role.", string(r)) }

// Outcome names the outcome of a rule.
func (l *lang) Outcome(o election.Outcome) string { return l.lookup("outcome.", string(o)) }

// Mark names a ballot mark: yes, no, abstain.
func (l *lang) Mark(m string) string { return l.lookup("mark.", m) }

// RoundKind names the kind of a round: FORMAL, ADDITIONAL...
func (l *lang) RoundKind(k string) string { return l.lookup("kind.", k) }

// ElectionType names an election type.
func (l *lang) ElectionType(t string) string { return l.lookup("etype.", t) }

// ElectionStatus names an election status.
func (l *lang) ElectionStatus(s string) string { return l.lookup("estatus.", s) }

// Education names an education level.
func (l *lang) Education(e string) string { return l.lookup("edu.", e) }

// Sex names a sex.
func (l *lang) Sex(s string) string { return l.lookup("sex.", s) }

// Rectification names a rectification status.
func (l *lang) Rectification(s string) string { return l.lookup("rect.", s) }

// Source names the source of a problem.
func (l *lang) Source(s string) string { return l.lookup("source.", s) }

// Collection names a collection.
func (l *lang) Collection(c string) string { return l.lookup("coll.", c) }

// Conflict names a kind of conflict.
func (l *lang) Conflict(k string) string { return l.lookup("conflict.", k) }

// Time writes t in China Standard Time, "" for the zero time.
func (l *lang) Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(shanghai).Format(timeLayout)
}

// Millis writes a Unix time in milliseconds as Time does.
func (l *lang) Millis(ms int64) string {
	if ms == 0 {
		return ""
	}
	return l.Time(time.UnixMilli(ms))
}

// Stamp writes an RFC 3339 time as Time does; anything else as it is.
func (l *lang) Stamp(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return l.Time(t)
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

// Pick returns the text in the page's language: zh for Chinese, en for
// English, falling back to the other when one is empty.
func (l *lang) Pick(zh, en string) string {
	if l.Code == "en" && en != "" || zh == "" {
		return en
	}
	return zh
}

// Finding writes a rule finding's message in the page's language.
func (l *lang) Finding(f election.Finding) string { return l.Pick(f.Message, f.MessageEN) }

// ErrorSummary names an error code in the page's language.
func (l *lang) ErrorSummary(c syncproto.Code) string {
	if m, ok := l.msgs["err."+string(c)]; ok {
		return m
	}
	return l.Msg("err.unknown")
}

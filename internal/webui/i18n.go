package webui

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/election"
	"villagesync/syncproto"
)

// DefaultLang is the language of someone who has not chosen one.
const DefaultLang = "zh"

// TimeLayout is how the pages write a time, in China Standard Time.
const TimeLayout = "2006-01-02 15:04"

// Shanghai is the zone times are shown and typed in: Asia/Shanghai, or a
// fixed UTC+8 where the system has no time zone database (China has kept
// UTC+8 without daylight saving since 1991).
var Shanghai = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
}()

// Lang is one language of the pages: its catalogue and the formatting the
// templates call. Each app embeds it in its own type to add the names of
// the values only it shows.
type Lang struct {
	Code  string // the ?lang= value: "zh" or "en"
	Tag   string // the <html lang> value
	Other string // the ?lang= value of the other language
	msgs  map[string]string
}

// Chinese returns the Simplified Chinese language with catalogue msgs.
func Chinese(msgs map[string]string) *Lang {
	return &Lang{Code: "zh", Tag: "zh-CN", Other: "en", msgs: msgs}
}

// English returns the English language with catalogue msgs.
func English(msgs map[string]string) *Lang {
	return &Lang{Code: "en", Tag: "en", Other: "zh", msgs: msgs}
}

// T returns the message key, or an error (which stops the template) if the
// catalogue has no such key.
func (l *Lang) T(key string) (string, error) {
	if m, ok := l.msgs[key]; ok {
		return m, nil
	}
	return "", fmt.Errorf("no %s message %q", l.Code, key)
}

// Msg returns the message key, or the key itself if there is none.
func (l *Lang) Msg(key string) string {
	if m, ok := l.msgs[key]; ok {
		return m
	}
	return key
}

// F formats the message key with args.
func (l *Lang) F(key string, args ...any) string { return fmt.Sprintf(l.Msg(key), args...) }

// Lookup translates a value (a status, a kind...) under prefix, and shows
// an unknown value as it is.
func (l *Lang) Lookup(prefix, value string) string {
	if m, ok := l.msgs[prefix+value]; ok {
		return m
	}
	return value
}

// Role names a role.
func (l *Lang) Role(r election.Role) string { return l.Lookup("role.", string(r)) }

// Outcome names the outcome of a rule.
func (l *Lang) Outcome(o election.Outcome) string { return l.Lookup("outcome.", string(o)) }

// Time writes t in China Standard Time, "" for the zero time.
func (l *Lang) Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(Shanghai).Format(TimeLayout)
}

// Stamp writes an RFC 3339 time as Time does; anything else as it is.
func (l *Lang) Stamp(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return l.Time(t)
}

// Pick returns the text in the page's language: zh for Chinese, en for
// English, falling back to the other when one is empty.
func (l *Lang) Pick(zh, en string) string {
	if l.Code == "en" && en != "" || zh == "" {
		return en
	}
	return zh
}

// ErrorSummary names an error code in the page's language.
func (l *Lang) ErrorSummary(c syncproto.Code) string {
	if m, ok := l.msgs["err."+string(c)]; ok {
		return m
	}
	return l.Msg("err.unknown")
}

// LangCookie is the cookie that remembers the language someone chose.
type LangCookie struct {
	Name     string
	MaxAge   time.Duration
	MaxValue int  // a longer value is ignored
	Secure   bool // of the cookie set
}

// ChooseLang returns the request's language among langs, which are keyed
// by their ?lang= code and hold DefaultLang: ?lang= (remembered in the
// cookie when it comes with a GET), else the cookie, else DefaultLang.
func ChooseLang[L any](c echo.Context, langs map[string]L, ck LangCookie) L {
	code := c.QueryParam("lang")
	if l, ok := langs[code]; ok {
		if c.Request().Method == http.MethodGet {
			c.SetCookie(&http.Cookie{
				Name:     ck.Name,
				Value:    code,
				Path:     "/",
				MaxAge:   int(ck.MaxAge / time.Second),
				HttpOnly: true,
				Secure:   ck.Secure,
				SameSite: http.SameSiteLaxMode,
			})
		}
		return l
	}
	if l, ok := langs[Cookie(c, ck.Name, ck.MaxValue)]; ok {
		return l
	}
	return langs[DefaultLang]
}

// Cookie returns the value of a cookie, "" if it is missing or longer than
// maxLen bytes.
func Cookie(c echo.Context, name string, maxLen int) string {
	ck, err := c.Cookie(name)
	if err != nil || len(ck.Value) > maxLen {
		return ""
	}
	return ck.Value
}

package webui_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/election"
	"villagesync/internal/webui"
	"villagesync/internal/webui/webuitest"
)

var (
	zh = map[string]string{"hello": "你好", "n": "%d 个", "role.station": "村站", "err.unknown": "请求失败", "err.forbidden": "无权"}
	en = map[string]string{"hello": "Hello", "n": "%d items", "role.station": "Station", "err.unknown": "Failed", "err.forbidden": "Forbidden"}
)

func TestCatalogues(t *testing.T) { webuitest.CheckCatalogues(t, zh, en) }

func TestLang(t *testing.T) {
	z, e := webui.Chinese(zh), webui.English(en)
	if _, err := z.T("missing"); err == nil {
		t.Error("T of a missing key: got no error, want one (it stops the template)")
	}
	tests := []struct {
		name, got, want string
	}{
		{"T", must(t)(e.T("hello")), "Hello"},
		{"MsgMissing", z.Msg("missing"), "missing"},
		{"F", e.F("n", 3), "3 items"},
		{"Role", z.Role(election.RoleStation), "村站"},
		{"LookupUnknown", e.Lookup("role.", "new"), "new"},
		{"ErrorSummaryKnown", e.ErrorSummary("forbidden"), "Forbidden"},
		{"ErrorSummaryUnknown", z.ErrorSummary("no_such_code"), "请求失败"},
		{"PickZh", z.Pick("中文", "English"), "中文"},
		{"PickEn", e.Pick("中文", "English"), "English"},
		{"PickEnEmpty", e.Pick("中文", ""), "中文"},
		{"PickZhEmpty", z.Pick("", "English"), "English"},
		{"Time", z.Time(time.Date(2026, 3, 7, 16, 30, 0, 0, time.UTC)), "2026-03-08 00:30"},
		{"TimeNoSummerTime", z.Time(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)), "2026-07-01 08:00"},
		{"TimeZero", z.Time(time.Time{}), ""},
		{"Stamp", e.Stamp("2026-03-07T16:30:00Z"), "2026-03-08 00:30"},
		{"StampNotATime", e.Stamp("yesterday"), "yesterday"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if z.Tag != "zh-CN" || z.Other != "en" || e.Tag != "en" || e.Other != "zh" {
		t.Errorf("tags: got %q/%q and %q/%q, want zh-CN/en and en/zh", z.Tag, z.Other, e.Tag, e.Other)
	}
}

func must(t *testing.T) func(string, error) string {
	return func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestChooseLang(t *testing.T) {
	langs := map[string]*webui.Lang{"zh": webui.Chinese(zh), "en": webui.English(en)}
	ck := webui.LangCookie{Name: "vs_lang", MaxAge: time.Hour, MaxValue: 8, Secure: true}
	tests := []struct {
		name, method, target, cookie string
		want                         string
		wantSet                      bool // a cookie remembers the choice
	}{
		{"Default", http.MethodGet, "/", "", "zh", false},
		{"Query", http.MethodGet, "/?lang=en", "", "en", true},
		{"QueryOverCookie", http.MethodGet, "/?lang=zh", "en", "zh", true},
		{"QueryOnPostNotRemembered", http.MethodPost, "/?lang=en", "", "en", false},
		{"UnknownQuery", http.MethodGet, "/?lang=fr", "", "zh", false},
		{"Cookie", http.MethodGet, "/", "en", "en", false},
		{"UnknownCookie", http.MethodGet, "/", "fr", "zh", false},
		{"CookieTooLong", http.MethodGet, "/", "en" + strings.Repeat("x", 20), "zh", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequestWithContext(t.Context(), tt.method, tt.target, nil)
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: ck.Name, Value: tt.cookie})
			}
			rec := httptest.NewRecorder()
			c := echo.New().NewContext(req, rec)
			if got := webui.ChooseLang(c, langs, ck); got.Code != tt.want {
				t.Errorf("got %s, want %s", got.Code, tt.want)
			}
			set := rec.Result().Cookies()
			if got := len(set) == 1; got != tt.wantSet {
				t.Fatalf("cookies set: got %v, want one: %v", set, tt.wantSet)
			}
			if tt.wantSet {
				if c := set[0]; c.Name != ck.Name || c.Value != tt.want || c.MaxAge != 3600 || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode {
					t.Errorf("cookie: got %+v, want %s=%s, Max-Age 3600, HttpOnly, Secure, SameSite=Lax", c, ck.Name, tt.want)
				}
			}
		})
	}
}

func TestReadForm(t *testing.T) {
	const limit = 64
	tests := []struct {
		name   string
		body   string
		header map[string]string
		want   error
	}{
		{"OK", "a=1&b=2", map[string]string{"Sec-Fetch-Site": "same-origin"}, nil},
		{"NoFetchMetadata", "a=1", nil, nil}, // a non-browser client
		{"CrossSite", "a=1", map[string]string{"Sec-Fetch-Site": "cross-site"}, webui.ErrCrossOrigin},
		{"OtherOrigin", "a=1", map[string]string{"Origin": "http://evil.example"}, webui.ErrCrossOrigin},
		{"TooBig", "a=" + strings.Repeat("x", limit), nil, webui.ErrFormTooBig},
		{"Malformed", "a=%zz", nil, webui.ErrBadForm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/form", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			c := echo.New().NewContext(req, httptest.NewRecorder())
			err := webui.ReadForm(c, http.NewCrossOriginProtection(), limit)
			if err != tt.want {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if err == nil {
				if want, _ := url.ParseQuery(tt.body); req.PostForm.Encode() != want.Encode() {
					t.Errorf("form: got %v, want %v", req.PostForm, want)
				}
			}
			if err == webui.ErrCrossOrigin && req.PostForm != nil {
				t.Errorf("a cross-origin form was read: %v", req.PostForm)
			}
		})
	}
}

func TestEqualTokens(t *testing.T) {
	tests := []struct {
		got, want string
		equal     bool
	}{
		{"ABC", "ABC", true},
		{"ABC", "ABD", false},
		{"AB", "ABC", false},
		{"", "", false}, // an empty token never matches, even an empty one
		{"", "ABC", false},
	}
	for _, tt := range tests {
		if got := webui.EqualTokens(tt.got, tt.want); got != tt.equal {
			t.Errorf("EqualTokens(%q, %q): got %v, want %v", tt.got, tt.want, got, tt.equal)
		}
	}
}

func TestSetSecurityHeaders(t *testing.T) {
	h := http.Header{}
	webui.SetSecurityHeaders(h, "default-src 'none'")
	for k, want := range map[string]string{
		"Content-Security-Policy":    "default-src 'none'",
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "no-referrer",
		"X-Frame-Options":            "DENY",
		"Cross-Origin-Opener-Policy": "same-origin",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
}

func TestParseTemplates(t *testing.T) {
	fsys := fstest.MapFS{
		"t/layout.html": {Data: []byte(`{{define "layout"}}[{{template "part" .}}|{{template "body" .}}]{{end}}`)},
		"t/parts.html":  {Data: []byte(`{{define "part"}}{{up .}}{{end}}`)},
		"t/home.html":   {Data: []byte(`{{define "body"}}home {{.}}{{end}}`)},
		"t/bad.html":    {Data: []byte(`{{define "body"}}{{.}{{end}}`)},
	}
	funcs := map[string]any{"up": strings.ToUpper}
	pages, err := webui.ParseTemplates(fsys, "t", funcs, []string{"home"}, "parts")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := pages["home"].ExecuteTemplate(&b, "layout", "x"); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "[X|home x]" {
		t.Errorf("got %q, want [X|home x]", got)
	}
	if _, err := webui.ParseTemplates(fsys, "t", funcs, []string{"home", "bad"}, "parts"); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("a broken template: got %v, want an error naming it", err)
	}
}

func TestLoadStatic(t *testing.T) {
	fsys := fstest.MapFS{"static/style.css": {Data: []byte("p{}")}, "static/img/logo.png": {Data: []byte("png")}}
	files, err := webui.LoadStatic(fsys, "static")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"style.css": "text/css", "logo.png": "image/png", "base.css": "text/css"} {
		f, ok := files[name]
		if !ok || !strings.HasPrefix(f.ContentType, want) || len(f.Body) == 0 {
			t.Errorf("%s: got %q with %d bytes (found %v), want %s", name, f.ContentType, len(f.Body), ok, want)
		}
	}
	if string(files["base.css"].Body) != string(webui.BaseCSS) {
		t.Error("base.css: got another body than BaseCSS")
	}
}

package webuitest

import (
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// formatVerb finds the fmt verbs of a message.
var formatVerb = regexp.MustCompile(`%[a-z]`)

// CheckCatalogues fails t unless the Chinese and English catalogues have
// the same keys, no empty message, and the same format verbs in the same
// order in each message.
func CheckCatalogues(t testing.TB, zh, en map[string]string) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(zh)) {
		if _, ok := en[k]; !ok {
			t.Errorf("key %q is in the Chinese catalogue only", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(en)) {
		if _, ok := zh[k]; !ok {
			t.Errorf("key %q is in the English catalogue only", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(zh)) {
		z, e := zh[k], en[k]
		if strings.TrimSpace(z) == "" || strings.TrimSpace(e) == "" {
			t.Errorf("key %q: empty message (zh %q, en %q)", k, z, e)
		}
		if zv, ev := formatVerb.FindAllString(z, -1), formatVerb.FindAllString(e, -1); !slices.Equal(zv, ev) {
			t.Errorf("key %q: format verbs differ: zh %v, en %v", k, zv, ev)
		}
	}
}

// templateKey finds the message keys a template asks for: {{.L.T "key"}}.
var templateKey = regexp.MustCompile(`\.T "([a-z0-9_.]+)"`)

// TemplateKeys returns the message keys the templates dir/*.html of fsys
// ask for with .T "key". It fails t if it finds fewer than atLeast, which
// means the pattern misses them.
func TemplateKeys(t testing.TB, fsys fs.FS, dir string, atLeast int) []string {
	t.Helper()
	names, err := fs.Glob(fsys, path.Join(dir, "*.html"))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range templateKey.FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1])
		}
	}
	if len(keys) < atLeast {
		t.Fatalf("found %d message keys in the templates: the pattern misses them", len(keys))
	}
	return keys
}

package webuitest_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"villagesync/internal/webui/webuitest"
)

// recorder records what a check reports instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestCheckCatalogues(t *testing.T) {
	tests := []struct {
		name   string
		zh, en map[string]string
		want   []string // a word of each error, in order
	}{
		{"OK", map[string]string{"a": "甲 %d", "b": "乙"}, map[string]string{"a": "A %d", "b": "B"}, nil},
		{"ChineseOnly", map[string]string{"a": "甲", "b": "乙"}, map[string]string{"a": "A"}, []string{"Chinese catalogue only", "empty"}},
		{"EnglishOnly", map[string]string{"a": "甲"}, map[string]string{"a": "A", "c": "C"}, []string{"English catalogue only"}},
		{"Empty", map[string]string{"a": " "}, map[string]string{"a": "A"}, []string{"empty"}},
		{"Verbs", map[string]string{"a": "%s 的 %d"}, map[string]string{"a": "%d of %s"}, []string{"format verbs differ"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			webuitest.CheckCatalogues(r, tt.zh, tt.en)
			if len(r.errs) != len(tt.want) || !slices.EqualFunc(r.errs, tt.want, strings.Contains) {
				t.Errorf("got %q, want errors containing %q", r.errs, tt.want)
			}
		})
	}
}

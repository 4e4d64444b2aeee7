package main

import (
	"strings"
	"testing"
)

// TestBenchCommand checks the bench command's contract without running the
// suite (package bench's own test runs it): its flags, a stray argument,
// and the hidden station process refusing a missing job.
func TestBenchCommand(t *testing.T) {
	c := cli{t}
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  []string
	}{
		{"Help", []string{"bench", "--help"}, 0, []string{"--json", "--quick", "--dir"}},
		{"StrayArgument", []string{"bench", "now"}, 2, []string{`unexpected argument "now"`}},
		{"UnknownFlag", []string{"bench", "--devices", "5"}, 2, []string{"-devices"}},
		{"StationChildWithoutJob", []string{"bench", "station-child"}, 1, []string{"station child: read job"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := c.try(tc.args...)
			if code != tc.wantCode {
				t.Fatalf("got exit %d, want %d; stderr: %s", code, tc.wantCode, errOut)
			}
			if out != "" {
				t.Errorf("got stdout %q, want nothing", out)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not mention %q", errOut, w)
				}
			}
		})
	}
	if _, errOut, _ := c.try("--help"); !strings.Contains(errOut, "bench") {
		t.Errorf("villagesync --help does not list bench: %s", errOut)
	}
}

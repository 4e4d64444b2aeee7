package server_test

import (
	"testing"

	"villagesync/server"
)

func TestConflictID(t *testing.T) {
	tests := []struct {
		name, kind, collection, subject string
		refs                            []string
		want                            string
	}{
		// Vectors computed with Python's hashlib, independently of Go.
		{"Slot", "slot", "tally_sheet", "220422100201-PC/round/1", []string{"dev-b/7", "dev-a/9", "dev-a/10"}, "CF-f2ff9b0579607d7d"},
		{"Record", "record", "election", "220422100201-PC", []string{"dev-y/1", "dev-x/1"}, "CF-7efc8bbdbc8ff1f8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := server.ConflictID(tt.kind, tt.collection, tt.subject, tt.refs); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestVersionRef(t *testing.T) {
	ref := server.VersionRef("dev-0123456789abcdef0123", 42)
	if ref != "dev-0123456789abcdef0123/42" {
		t.Fatalf("got %q", ref)
	}
	dev, seq, ok := server.ParseVersionRef(ref)
	if !ok || dev != "dev-0123456789abcdef0123" || seq != 42 {
		t.Errorf("got %q %d %t, want the device and 42", dev, seq, ok)
	}
	for _, bad := range []string{"", "dev", "/3", "dev/0", "dev/x", "dev/-1"} {
		if _, _, ok := server.ParseVersionRef(bad); ok {
			t.Errorf("ParseVersionRef(%q): got ok, want refused", bad)
		}
	}
}

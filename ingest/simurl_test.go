package ingest

import (
	"testing"
)

func TestParseSimURL(t *testing.T) {
	tests := []struct {
		url, name, pattern string
		ok                 bool
	}{
		{"sim://tinh", "tinh", "", true},
		{"sim://xa-a?pattern=avsync", "xa-a", "avsync", true},
		{"sim://xa-a?pattern=avsync&pattern=avsync", "", "", false},
		{"sim://?pattern=avsync", "", "", false},
		{"sim://a/b", "", "", false},
		{"sim://a?pattern=ball", "", "", false},
		{"sim://a?x=1", "", "", false},
		{"rtsp://a", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			name, pattern, err := ParseSimURL(tc.url)
			if (err == nil) != tc.ok || name != tc.name || pattern != tc.pattern {
				t.Fatalf("got %q %q %v, want %q %q ok=%v", name, pattern, err, tc.name, tc.pattern, tc.ok)
			}
		})
	}
}

// TestSimToneHz: the demo's points sound different, and every tone is a
// whole number of cycles per second (no click at the loop seam).
func TestSimToneHz(t *testing.T) {
	seen := map[float64]string{}
	for _, name := range []string{"tinh", "xa-a", "xa-b", "trung-uong"} {
		hz := SimToneHz(name)
		if hz < 200 || hz > 2000 || hz != float64(int(hz)) {
			t.Errorf("%s: %g Hz", name, hz)
		}
		if other, dup := seen[hz]; dup {
			t.Errorf("%s and %s share %g Hz", name, other, hz)
		}
		seen[hz] = name
		if SimToneHz(name) != hz {
			t.Errorf("%s: tone not stable", name)
		}
	}
}

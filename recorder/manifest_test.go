package recorder

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"diemcau/internal/testkit"
)

// The prft box must give back the start the manifest line states, to the
// millisecond, whatever the nanoseconds.
func TestNTPRoundTrip(t *testing.T) {
	base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	for _, ns := range []int{0, 1, 999_999, 1_000_000, 123_000_000, 123_999_999, 500_000_000, 999_000_000, 999_999_999} {
		in := base.Add(time.Duration(ns))
		if out := fromNTP(ntpTime(in)); !out.Equal(in) {
			t.Errorf("%v came back as %v", in, out)
		}
	}
}

// Repair at start never touches a sealed run, even one with bytes after
// its seal: those are verify's to report.
func TestRepairLeavesSealedRunsAlone(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "demo", "20250101T080000Z")
	os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, ManifestName)
	m, err := createManifest(p, runJSON{Session: "demo", Format: manifestFormat}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.seal(time.Now(), SealStopped, signer{})
	m.close()
	f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"gap":`)
	f.Close()
	before, _ := os.ReadFile(p)
	rec, err := New(Config{Root: root}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	rec.repairAll(context.Background())
	after, _ := os.ReadFile(p)
	if string(before) != string(after) {
		t.Errorf("sealed manifest changed by repair:\n%s\n---\n%s", before, after)
	}
	if rep, err := Verify(dir, nil); err != nil || rep.OK() {
		t.Errorf("verify of a sealed run with bytes after the seal: %v %+v", err, rep)
	}
}

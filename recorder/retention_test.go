package recorder

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// Retention deletes whole runs older than the limit; never a live run, a
// young run, or a folder that is not a run.
func TestRetention(t *testing.T) {
	root := t.TempDir()
	old := time.Now().Add(-72 * time.Hour)
	mkRun := func(rel string, mtime time.Time) string {
		dir := filepath.Join(root, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Join(dir, "composite"), 0o755)
		os.WriteFile(filepath.Join(dir, "composite", "000001.mp4"), []byte("x"), 0o644)
		m := filepath.Join(dir, ManifestName)
		os.WriteFile(m, []byte(`{"seal":{},"prev":""}`+"\n"), 0o644)
		os.Chtimes(m, mtime, mtime)
		return dir
	}
	oldRun := mkRun("demo/20250101T080000Z", old)
	oldAlone := mkRun("other/20250101T080000Z", old)
	youngRun := mkRun("demo/20250301T080000Z", time.Now())
	notARun := filepath.Join(root, "demo", "notes")
	os.MkdirAll(notARun, 0o755)
	os.Chtimes(notARun, old, old)

	// The live run's clock says it started long ago: only liveness saves it.
	var skew atomic.Int64
	skew.Store(int64(-96 * time.Hour))
	rec, err := New(Config{Root: root, Retention: 24 * time.Hour, GapTimeout: time.Minute}, testkit.Logger(t),
		WithClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }))
	if err != nil {
		t.Fatal(err)
	}
	s := pipeline.NewStream("c")
	run, err := rec.StartRun("demo", map[string]*pipeline.Stream{"composite": s})
	if err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(run.Dir(), ManifestName)
	os.Chtimes(m, old, old)
	skew.Store(0)
	rec.sweep()

	for dir, keep := range map[string]bool{oldRun: false, oldAlone: false, youngRun: true, notARun: true, run.Dir(): true} {
		_, err := os.Stat(dir)
		if keep && err != nil {
			t.Errorf("%s deleted", dir)
		}
		if !keep && !os.IsNotExist(err) {
			t.Errorf("%s kept (%v)", dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "other")); !os.IsNotExist(err) {
		t.Errorf("empty session folder kept")
	}
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
}

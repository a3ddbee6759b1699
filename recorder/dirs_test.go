package recorder

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// Every folder a run makes has its name synced into its parent, with or
// without archive.fsync: the root's entry for a new session folder, the
// session folder's for the run, the run's for its streams, manifest and
// sources/, and sources/ for a point added mid-run.
func TestNewFoldersSynced(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		t.Run(map[bool]string{false: "fsync off", true: "fsync on"}[fsync], func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "archive")
			rec, err := New(Config{Root: root, Fsync: fsync, GapTimeout: time.Minute}, testkit.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			synced := map[string]bool{}
			rec.syncDir = func(dir string) error {
				mu.Lock()
				synced[dir] = true
				mu.Unlock()
				return syncDir(dir)
			}
			run, err := rec.StartRun("fresh", map[string]*pipeline.Stream{"composite": pipeline.NewStream("c")})
			if err != nil {
				t.Fatal(err)
			}
			if err := run.AddStream("sources/cam1", pipeline.NewStream("cam1")); err != nil {
				t.Fatal(err)
			}
			if err := run.Stop(); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, dir := range []string{filepath.Dir(root), root, filepath.Join(root, "fresh"), run.Dir(), filepath.Join(run.Dir(), "sources")} {
				if !synced[dir] {
					t.Errorf("%s not synced after an entry was made in it", dir)
				}
			}
		})
	}
}

// Retention empties and removes the session folder while runs keep
// starting in it: no start may fail, and every run started keeps its
// folder and manifest until it is stopped.
func TestRetentionRacesRunStart(t *testing.T) {
	root := t.TempDir()
	var mu sync.Mutex
	clock := time.Now().Add(1000 * time.Hour) // every stopped run is past the retention
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second) // every run its own stamp
		return clock
	}
	rec, err := New(Config{Root: root, Retention: time.Hour, GapTimeout: time.Minute}, testkit.Logger(t), WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	const starters, runsEach = 1, 600
	done := make(chan struct{})
	var sweeps sync.WaitGroup
	sweeps.Add(1)
	go func() {
		defer sweeps.Done()
		for {
			select {
			case <-done:
				return
			default:
				rec.sweep()
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, starters*runsEach)
	for range starters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range runsEach {
				run, err := rec.StartRun("race", map[string]*pipeline.Stream{"composite": pipeline.NewStream("c")})
				if err != nil {
					errs <- err
					continue
				}
				if _, err := os.Stat(filepath.Join(run.Dir(), ManifestName)); err != nil {
					errs <- errors.Join(errors.New("a live run lost its manifest"), err)
				}
				if err := run.Stop(); err != nil {
					errs <- err
				}
				// Start the next run at varying moments of the sweep that
				// deletes this one and empties the session folder.
				time.Sleep(time.Duration(rand.IntN(400)) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	close(done)
	sweeps.Wait()
	close(errs)
	var failed []string
	for err := range errs {
		failed = append(failed, err.Error())
	}
	slices.Sort(failed)
	failed = slices.Compact(failed)
	if len(failed) > 0 {
		t.Fatalf("%d problems while retention ran, e.g.:\n%v", len(failed), failed[:min(5, len(failed))])
	}
}

package recorder

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"diemcau/internal/testkit"
)

// Recordings shows a live run as live, a stopped one verified, and notices
// a change made after it was verified.
func TestRecordingsVerifyState(t *testing.T) {
	c := makeClip(t, "320x180", 2, "aac")
	root := t.TempDir()
	rec := startRecorder(t, Config{Root: root, Segment: time.Second, GapTimeout: time.Minute})
	fd := newFeeder(c, "composite", 8)
	run, err := rec.StartRun("rec", streamsOf(map[string]*feeder{"composite": fd}))
	if err != nil {
		t.Fatal(err)
	}
	recordFor(t, map[string]*feeder{"c": fd}, 2*time.Second)
	runs, err := rec.Recordings(context.Background(), "rec")
	if err != nil || len(runs) != 1 || !runs[0].Live || runs[0].Verify.State != "live" {
		t.Fatalf("while live: %v %+v", err, runs)
	}
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	runs, err = rec.Recordings(context.Background(), "rec")
	if err != nil || runs[0].Live || runs[0].Verify.State != "ok" || !runs[0].Sealed || len(runs[0].Segments) != 2 {
		t.Fatalf("after stop: %v %+v", err, runs)
	}
	editFile(t, filepath.Join(run.Dir(), "composite", "000002.mp4"), func(b []byte) []byte { return b[:len(b)-1] })
	runs, err = rec.Recordings(context.Background(), "rec")
	if err != nil || runs[0].Verify.State != "problems" || len(runs[0].Verify.Problems) != 1 {
		t.Fatalf("after a change: %v %+v", err, runs[0].Verify)
	}
}

// When the recorder's Run ends, live runs are sealed ("shutdown") and no
// new run starts.
func TestShutdownSealsLiveRuns(t *testing.T) {
	c := makeClip(t, "320x180", 2, "")
	root := t.TempDir()
	rec, err := New(Config{Root: root, GapTimeout: time.Minute}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	running := testkit.Start(t, "recorder", rec.Run)
	fd := newFeeder(c, "composite", 8)
	run, err := rec.StartRun("bye", streamsOf(map[string]*feeder{"composite": fd}))
	if err != nil {
		t.Fatal(err)
	}
	recordFor(t, map[string]*feeder{"c": fd}, time.Second)
	if err := running.Stop(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, run.Dir())
	if rep.SealReason != SealShutdown || rep.Segments != 1 {
		t.Errorf("seal %q, %d segments; want shutdown, 1", rep.SealReason, rep.Segments)
	}
	if _, err := rec.StartRun("bye", streamsOf(map[string]*feeder{"composite": fd})); !errors.Is(err, ErrClosed) {
		t.Errorf("StartRun after Run returned: %v, want ErrClosed", err)
	}
	if err := run.Stop(); err != nil {
		t.Errorf("Stop after the shutdown: %v", err)
	}
}

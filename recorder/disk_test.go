package recorder

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func streamState(run *Run, name string) StreamStatus {
	for _, ss := range run.Status().Streams {
		if ss.Stream == name {
			return ss
		}
	}
	return StreamStatus{}
}

// Below archive.min_free recording stops cleanly and says why; it resumes
// in a new segment when space returns.
func TestLowDiskStopsAndResumes(t *testing.T) {
	c := makeClip(t, "320x180", 4, "aac")
	root := t.TempDir()
	var free atomic.Int64
	free.Store(10 << 30)
	rec := startRecorder(t, Config{Root: root, Segment: time.Minute, MinFree: 1 << 30, GapTimeout: time.Minute},
		WithFreeSpace(func(string) (int64, error) { return free.Load(), nil }))
	fd := newFeeder(c, "composite", 4)
	run, err := rec.StartRun("disk", streamsOf(map[string]*feeder{"composite": fd}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t, 2*time.Minute)
	keep := func() {
		if err := fd.feedUntil(ctx, fd.fed+100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	recordFor(t, map[string]*feeder{"c": fd}, 3*time.Second)

	free.Store(100 << 20)
	waitFor(t, "recording to stop", func() bool { return run.Status().DiskStopped }, keep)
	st := run.Status()
	if !strings.Contains(st.DiskReason, "archive.min_free") || st.Segments != 1 {
		t.Errorf("stopped: reason %q, %d segments closed; want the min_free reason, 1", st.DiskReason, st.Segments)
	}
	if rep, err := Verify(run.Dir(), nil); err != nil || len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemUnsealed || rep.Segments != 1 {
		t.Errorf("stopped run: %v %+v; want the closed segment intact, only unsealed", err, rep)
	}
	recordFor(t, map[string]*feeder{"c": fd}, fd.fed+2*time.Second)
	if got := streamState(run, "composite"); got.State != StateDiskStopped || got.Skipped == 0 {
		t.Errorf("while low: %+v, want disk_stopped and frames skipped", got)
	}

	free.Store(10 << 30)
	waitFor(t, "recording to resume", func() bool { return streamState(run, "composite").State == StateRecording }, keep)
	recordFor(t, map[string]*feeder{"c": fd}, fd.fed+2*time.Second)
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, run.Dir())
	if rep.Segments != 2 {
		t.Errorf("%d segments, want 2 (before the stop, after the resume)", rep.Segments)
	}
	for _, f := range []string{"000001.mp4", "000002.mp4"} {
		if _, codec, _, _, n := ffprobe(t, filepath.Join(run.Dir(), "composite", f)).stream("video"); codec != "h264" || n == 0 {
			t.Errorf("%s: %q, %d frames", f, codec, n)
		}
	}
}

// A real full disk (a small tmpfs): ENOSPC stops recording with the closed
// segments intact; freeing space lets it resume; the run verifies.
func TestFullDiskENOSPC(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	c := makeClip(t, "320x180", 4, "aac")
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	root := filepath.Join(mnt, "archive")
	// Leave about 1.5 MiB free.
	free, err := statfsFree(mnt)
	if err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, free-3<<19), 0o644); err != nil {
		t.Fatal(err)
	}

	rec := startRecorder(t, Config{Root: root, Segment: 2 * time.Second, Part: 500 * time.Millisecond, Fsync: true, GapTimeout: time.Minute})
	fd := newFeeder(c, "composite", 8)
	run, err := rec.StartRun("full", streamsOf(map[string]*feeder{"composite": fd}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t, 2*time.Minute)
	keep := func() {
		if err := fd.feedUntil(ctx, fd.fed+200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the disk to fill", func() bool { return run.Status().DiskStopped }, keep)
	st := run.Status()
	if !strings.Contains(st.DiskReason, "disk full") {
		t.Errorf("stopped for %q, want disk full", st.DiskReason)
	}
	closedBefore := st.Segments
	t.Logf("disk full after %d closed segments: %s", closedBefore, st.DiskReason)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recording to resume", func() bool { return streamState(run, "composite").State == StateRecording }, keep)
	recordFor(t, map[string]*feeder{"c": fd}, fd.fed+3*time.Second)
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, run.Dir())
	if rep.Segments <= closedBefore+1 {
		t.Errorf("%d segments in the end, %d before the disk filled: no recording after freeing space", rep.Segments, closedBefore)
	}
	runs, err := ListRuns(root, "full")
	if err != nil {
		t.Fatal(err)
	}
	for _, seg := range runs[0].Segments {
		if _, codec, _, _, n := ffprobe(t, filepath.Join(run.Dir(), filepath.FromSlash(seg.File))).stream("video"); codec != "h264" || n == 0 {
			t.Errorf("%s: %q, %d frames", seg.File, codec, n)
		}
	}
}

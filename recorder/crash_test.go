package recorder

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"diemcau/internal/testkit"
)

// helperEnv, set to an archive root, makes TestCrashHelper record there
// until it is killed.
const helperEnv = "DIEMCAU_RECORDER_CRASH_HELPER"

const (
	crashSegment = 2 * time.Second
	crashPart    = time.Second
	crashFedAt   = 3600 * time.Millisecond // mid-way through the second segment
)

// TestCrashHelper is the child of TestCrashRepair: it records a real-time
// stream with fsync on, says how much it has handled once it is mid-way
// through its second segment, then goes on recording until it is killed.
func TestCrashHelper(t *testing.T) {
	root := os.Getenv(helperEnv)
	if root == "" {
		t.Skip("helper process for TestCrashRepair")
	}
	c := makeClip(t, "320x180", 4, "aac")
	rec, err := New(Config{Root: root, Segment: crashSegment, Part: crashPart, Fsync: true, GapTimeout: time.Minute}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	fd := newFeeder(c, "composite", 1)
	run, err := rec.StartRun("crash", streamsOf(map[string]*feeder{"composite": fd}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t, time.Minute)
	if err := fd.feedUntil(ctx, crashFedAt); err != nil {
		t.Fatal(err)
	}
	for run.Status().Streams[0].Frames < uint64(fd.videoN+fd.audioN) {
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("CRASH-HELPER fed %d %s\n", fd.videoN, run.Dir())
	fd.feedUntil(ctx, time.Hour) // until killed
}

// SIGKILL of a recording process mid-segment: the closed segment is intact,
// the open one opens in ffprobe holding all but at most one part of what
// was handled, and after a restart verify reports the interruption and
// nothing else.
func TestCrashRepair(t *testing.T) {
	needFFmpeg(t)
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+root)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "CRASH-HELPER ") {
				lines <- sc.Text()
				break
			}
		}
		close(lines)
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(2 * time.Minute):
		t.Fatal("the helper never reported")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup in the child
		t.Fatal(err)
	}
	killed = true
	cmd.Wait()
	var fedVideo int
	var runDir string
	if _, err := fmt.Sscanf(line, "CRASH-HELPER fed %d %s", &fedVideo, &runDir); err != nil {
		t.Fatalf("helper said %q: %v", line, err)
	}

	// Before repair: segment 1 is closed and listed, segment 2 is open.
	rep, err := Verify(runDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, p := range rep.Problems {
		kinds[p.Kind]++
	}
	if rep.Segments != 1 || kinds[ProblemUnsealed] != 1 || kinds[ProblemExtra] < 1 || len(rep.Problems) != 1+kinds[ProblemExtra] {
		t.Errorf("before repair: %d segments listed, problems %v; want 1 listed, unsealed, the open segment extra", rep.Segments, rep.Problems)
	}
	open := filepath.Join(runDir, "composite", "000002.mp4")
	pr := ffprobe(t, open)
	_, codec, w, h, frames := pr.stream("video")
	pr.checkMonotonic(t, "open segment")
	perSegment := int(crashSegment / videoFrame)
	perPart := int(crashPart / videoFrame)
	handled := fedVideo - perSegment // frames of segment 2 handled before the report
	t.Logf("after SIGKILL the open segment holds %d frames; %d of it were handled before the report", frames, handled)
	if codec != "h264" || w != 320 || h != 180 || frames < handled-perPart-1 {
		t.Errorf("open segment after SIGKILL: %s %dx%d, %d frames; want h264 320x180, at least %d (%d handled, one part is %d)",
			codec, w, h, frames, handled-perPart-1, handled, perPart)
	}

	// Restart: the run is repaired and sealed.
	startRecorder(t, Config{Root: root, Segment: crashSegment, Part: crashPart, Fsync: true})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if rep, err = Verify(runDir, nil); err == nil && rep.Sealed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not repaired: %v %+v", err, rep)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !rep.OK() || rep.SealReason != SealInterrupted || len(rep.Interruptions) != 1 || rep.Segments < 2 {
		t.Fatalf("after repair: problems %v, seal %q, interruptions %v, %d segments; want none, interrupted, 1, 2 or more",
			rep.Problems, rep.SealReason, rep.Interruptions, rep.Segments)
	}
	in := rep.Interruptions[0]
	found := false
	for _, f := range in.Recovered {
		found = found || f == "composite/000002.mp4"
	}
	if !found {
		t.Errorf("interruption %+v does not name the open segment", in)
	}
	pr2 := ffprobe(t, open)
	if _, _, _, _, n := pr2.stream("video"); n < frames {
		t.Errorf("repaired segment holds %d frames, %d before repair", n, frames)
	}
	for _, seg := range []string{"000001.mp4", "000002.mp4"} {
		ffprobe(t, filepath.Join(runDir, "composite", seg)).checkMonotonic(t, seg)
	}
}

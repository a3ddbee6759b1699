package recorder

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"diemcau/pipeline"
)

// streamConfig cuts 1 s segments so that a short run has several.
func streamConfig(root string) Config {
	return Config{Root: root, Segment: time.Second, Part: 500 * time.Millisecond, GapTimeout: time.Minute}
}

// joinAt makes fd's media time go on from at, on the wall clock of other,
// as a point that joins a run late (or comes back after a silence) would.
func (fd *feeder) joinAt(at time.Duration, other *feeder) {
	fd.loop += at - fd.fed
	fd.wall = other.wall
}

func streamStatus(t *testing.T, run *Run, name string) StreamStatus {
	t.Helper()
	for _, ss := range run.Status().Streams {
		if ss.Stream == name {
			return ss
		}
	}
	t.Fatalf("no status for %s in %+v", name, run.Status().Streams)
	return StreamStatus{}
}

// waitHandled waits until the recorder has taken every frame fed to name
// on top of the before it had taken earlier.
func waitHandled(t *testing.T, run *Run, name string, fd *feeder, before uint64) {
	t.Helper()
	waitFor(t, name+" frames handled", func() bool {
		return streamStatus(t, run, name).Frames >= before+uint64(fd.videoN+fd.audioN)
	}, nil)
}

// manifestOf reads a run's manifest lines.
func manifestOf(t *testing.T, dir string) []manifestLine {
	t.Helper()
	lines, torn, err := readManifest(filepath.Join(dir, ManifestName))
	if err != nil || torn {
		t.Fatalf("manifest: torn %v, %v", torn, err)
	}
	return lines
}

// checkMembership fails unless every segment and gap line of a stream lies
// where the stream is in the run (from the run line or an "added" line to a
// "removed" line), and added/removed alternate.
func checkMembership(t *testing.T, lines []manifestLine) {
	t.Helper()
	in := map[string]bool{}
	for _, l := range lines {
		switch l.kind() {
		case "run":
			for _, s := range l.line.Run.Streams {
				in[s] = true
			}
		case "stream_event":
			e := l.line.StreamEvent
			if in[e.Stream] == (e.Event == StreamAdded) {
				t.Errorf("line %d: %s %s, but it is recorded: %v", l.num, e.Stream, e.Event, in[e.Stream])
			}
			in[e.Stream] = e.Event == StreamAdded
		case "segment":
			if !in[*l.line.Stream] {
				t.Errorf("line %d: segment of %s, which is not in the run there", l.num, *l.line.Stream)
			}
		case "gap":
			if !in[l.line.Gap.Stream] {
				t.Errorf("line %d: gap of %s, which is not in the run there", l.num, l.line.Gap.Stream)
			}
		}
	}
}

// probeSegments ffprobes a stream's segments in the run and returns their
// files in manifest order and the video frames they hold.
func probeSegments(t *testing.T, dir, stream string) (files []string, frames int) {
	t.Helper()
	for _, l := range manifestOf(t, dir) {
		if l.kind() != "segment" || *l.line.Stream != stream {
			continue
		}
		file := *l.line.File
		pr := ffprobe(t, filepath.Join(dir, filepath.FromSlash(file)))
		_, codec, w, h, n := pr.stream("video")
		if codec != "h264" || w != 320 || h != 180 || n == 0 {
			t.Errorf("%s: %s %dx%d with %d frames, want h264 320x180", file, codec, w, h, n)
		}
		pr.checkMonotonic(t, file)
		files = append(files, file)
		frames += n
	}
	return files, frames
}

func wantFiles(stream string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, path.Join(stream, fmt.Sprintf("%06d.mp4", i)))
	}
	return out
}

// A point added mid-run is recorded like one there from the start, after
// an "added" line.
func TestAddStreamMidRun(t *testing.T) {
	clip := makeClip(t, "320x180", 2, "")
	rec := startRecorder(t, streamConfig(t.TempDir()))
	fc := newFeeder(clip, "composite", 8)
	run, err := rec.StartRun("join", streamsOf(map[string]*feeder{"composite": fc}))
	if err != nil {
		t.Fatal(err)
	}
	recordFor(t, map[string]*feeder{"composite": fc}, 2*time.Second)

	fp := newFeeder(clip, "cam9", 8)
	fp.joinAt(fc.fed, fc)
	if err := run.AddStream("sources/cam9", fp.stream); err != nil {
		t.Fatal(err)
	}
	if ss := streamStatus(t, run, "sources/cam9"); ss.State != StateWaiting || ss.Segments != 0 {
		t.Errorf("just added: %+v", ss)
	}
	both := map[string]*feeder{"composite": fc, "sources/cam9": fp}
	recordFor(t, both, fc.fed+2*time.Second)
	waitHandled(t, run, "sources/cam9", fp, 0)
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}

	rep := mustVerify(t, run.Dir())
	if len(rep.StreamEvents) != 1 || rep.StreamEvents[0].Stream != "sources/cam9" || rep.StreamEvents[0].Event != StreamAdded {
		t.Errorf("stream events %+v, want sources/cam9 added", rep.StreamEvents)
	}
	if st := run.Status(); st.Segments != rep.Segments || len(st.Streams) != 2 {
		t.Errorf("status: %d segments of %d streams; verify counts %d segments", st.Segments, len(st.Streams), rep.Segments)
	}
	files, frames := probeSegments(t, run.Dir(), "sources/cam9")
	if strings.Join(files, " ") != strings.Join(wantFiles("sources/cam9", 2), " ") || frames != fp.videoN {
		t.Errorf("sources/cam9: files %v with %d frames; want 2 files with the %d frames fed", files, frames, fp.videoN)
	}
	lines := manifestOf(t, run.Dir())
	checkMembership(t, lines)
	infos, err := ListRuns(rec.Root(), "join")
	if err != nil || len(infos) != 1 || len(infos[0].StreamEvents) != 1 {
		t.Errorf("ListRuns: %v %+v", err, infos)
	}
}

// A point removed mid-run has its last segment closed and listed; the
// composite goes on recording.
func TestRemoveStreamMidRun(t *testing.T) {
	clip := makeClip(t, "320x180", 2, "")
	rec := startRecorder(t, streamConfig(t.TempDir()))
	fc, fa := newFeeder(clip, "composite", 8), newFeeder(clip, "a", 8)
	both := map[string]*feeder{"composite": fc, "sources/a": fa}
	run, err := rec.StartRun("leave", streamsOf(both))
	if err != nil {
		t.Fatal(err)
	}
	recordFor(t, both, 2500*time.Millisecond) // a's third segment is open
	waitHandled(t, run, "sources/a", fa, 0)
	if ss := streamStatus(t, run, "sources/a"); ss.File == "" {
		t.Fatalf("no open segment before the removal: %+v", ss)
	}
	if err := run.RemoveStream("sources/a"); err != nil {
		t.Fatal(err)
	}
	ss := streamStatus(t, run, "sources/a")
	if ss.State != StateRemoved || ss.File != "" || ss.Segments != 3 {
		t.Errorf("after the removal: %+v, want removed, no file open, 3 segments", ss)
	}
	// Its lines are written by the time RemoveStream returns.
	lines := manifestOf(t, run.Dir())
	last := lines[len(lines)-1]
	if last.kind() != "stream_event" || last.line.StreamEvent.Event != StreamRemoved {
		t.Fatalf("last line %s, want the removal", last.raw)
	}
	files, frames := probeSegments(t, run.Dir(), "sources/a")
	if strings.Join(files, " ") != strings.Join(wantFiles("sources/a", 3), " ") || frames != fa.videoN {
		t.Errorf("sources/a: files %v with %d frames; want 3 files with the %d frames fed", files, frames, fa.videoN)
	}

	recordFor(t, map[string]*feeder{"composite": fc}, fc.fed+2*time.Second)
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, run.Dir())
	if len(rep.StreamEvents) != 1 || rep.StreamEvents[0].Event != StreamRemoved {
		t.Errorf("stream events %+v, want sources/a removed", rep.StreamEvents)
	}
	lines = manifestOf(t, run.Dir())
	checkMembership(t, lines)
	after := 0
	for _, l := range lines[last.num:] {
		if l.kind() == "segment" && *l.line.Stream == "composite" {
			after++
		}
	}
	if after < 2 {
		t.Errorf("%d composite segments after the removal, want at least 2", after)
	}
	if st := run.Status(); st.Segments != rep.Segments || streamStatus(t, run, "sources/a").Segments != 3 {
		t.Errorf("status after stop: %d segments, verify counts %d", st.Segments, rep.Segments)
	}
}

// A point that leaves and comes back goes on numbering its files; nothing
// written before is touched, and nothing is recorded twice when the same
// stream (with the GOP it kept) comes back.
func TestRemoveThenAddContinuesNumbering(t *testing.T) {
	for _, sameStream := range []bool{false, true} {
		name := "new stream"
		if sameStream {
			name = "same stream"
		}
		t.Run(name, func(t *testing.T) { removeThenAdd(t, sameStream) })
	}
}

func removeThenAdd(t *testing.T, sameStream bool) {
	clip := makeClip(t, "320x180", 2, "")
	rec := startRecorder(t, streamConfig(t.TempDir()))
	fc, fa := newFeeder(clip, "composite", 8), newFeeder(clip, "a", 8)
	both := map[string]*feeder{"composite": fc, "sources/a": fa}
	run, err := rec.StartRun("again", streamsOf(both))
	if err != nil {
		t.Fatal(err)
	}
	recordFor(t, both, 1500*time.Millisecond) // 000002.mp4 open
	waitHandled(t, run, "sources/a", fa, 0)
	if err := run.RemoveStream("sources/a"); err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, f := range wantFiles("sources/a", 2) {
		b, err := os.ReadFile(filepath.Join(run.Dir(), filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		before[f] = b
	}

	recordFor(t, map[string]*feeder{"composite": fc}, fc.fed+time.Second)
	back, fedBefore := fa, 0 // fa counts what it fed before
	if !sameStream {
		back, fedBefore = newFeeder(clip, "a", 8), fa.videoN // the point reconnects: a new stream
	}
	back.joinAt(fc.fed, fc)
	if err := run.AddStream("sources/a", back.stream); err != nil {
		t.Fatal(err)
	}
	both["sources/a"] = back
	recordFor(t, both, fc.fed+2*time.Second)
	fed := fedBefore + back.videoN
	if err := run.Stop(); err != nil { // takes the frames still queued
		t.Fatal(err)
	}

	rep := mustVerify(t, run.Dir())
	if len(rep.StreamEvents) != 2 || rep.StreamEvents[0].Event != StreamRemoved || rep.StreamEvents[1].Event != StreamAdded {
		t.Errorf("stream events %+v, want removed then added", rep.StreamEvents)
	}
	checkMembership(t, manifestOf(t, run.Dir()))
	files, frames := probeSegments(t, run.Dir(), "sources/a")
	if strings.Join(files, " ") != strings.Join(wantFiles("sources/a", 4), " ") {
		t.Errorf("sources/a: files %v, want 4 in order", files)
	}
	if frames > fed || (!sameStream && frames != fed) {
		t.Errorf("sources/a: %d frames recorded, %d fed", frames, fed)
	}
	for f, b := range before {
		now, err := os.ReadFile(filepath.Join(run.Dir(), filepath.FromSlash(f)))
		if err != nil || string(now) != string(b) {
			t.Errorf("%s changed after the point came back (%v)", f, err)
		}
	}
	runs, err := ListRuns(rec.Root(), "again")
	if err != nil {
		t.Fatal(err)
	}
	var end time.Time
	for _, seg := range runs[0].Segments {
		if seg.Stream != "sources/a" {
			continue
		}
		if seg.Start.Before(end.Add(-time.Millisecond)) {
			t.Errorf("%s starts at %s, before the previous segment ends (%s)", seg.File, seg.Start, end)
		}
		end = seg.Start.Add(time.Duration(seg.DurationMS) * time.Millisecond)
	}
	if ss := streamStatus(t, run, "sources/a"); ss.Segments != 4 || ss.State != StateEnded {
		t.Errorf("status of sources/a after stop: %+v, want 4 segments, ended", ss)
	}
}

// Adding or removing what cannot be is an error naming the run and the
// stream, and changes nothing.
func TestStreamChangeErrors(t *testing.T) {
	clip := makeClip(t, "320x180", 1, "")
	rec := startRecorder(t, streamConfig(t.TempDir()))
	fc := newFeeder(clip, "composite", 8)
	run, err := rec.StartRun("errs", streamsOf(map[string]*feeder{"composite": fc}))
	if err != nil {
		t.Fatal(err)
	}
	other := pipeline.NewStream("x", clip.video)
	cases := []struct {
		name   string
		stream string
		op     func(name string) error
		want   error // nil: any error
		ok     bool
	}{
		{"add without sources/", "cam9", func(n string) error { return run.AddStream(n, other) }, nil, false},
		{"add bad id", "sources/Cam 9", func(n string) error { return run.AddStream(n, other) }, nil, false},
		{"add nil stream", "sources/b", func(n string) error { return run.AddStream(n, nil) }, nil, false},
		{"add duplicate", "composite", func(n string) error { return run.AddStream(n, other) }, ErrStreamRecorded, false},
		{"remove unknown", "sources/zz", run.RemoveStream, ErrStreamNotRecorded, false},
		{"add", "sources/b", func(n string) error { return run.AddStream(n, other) }, nil, true},
		{"add twice", "sources/b", func(n string) error { return run.AddStream(n, other) }, ErrStreamRecorded, false},
		{"remove", "sources/b", run.RemoveStream, nil, true},
		{"remove twice", "sources/b", run.RemoveStream, ErrStreamNotRecorded, false},
		{"stop", "", func(string) error { return run.Stop() }, nil, true},
		{"add after stop", "sources/c", func(n string) error { return run.AddStream(n, other) }, ErrRunStopped, false},
		{"add removed after stop", "sources/b", func(n string) error { return run.AddStream(n, other) }, ErrRunStopped, false},
		{"remove after stop", "composite", run.RemoveStream, ErrRunStopped, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.op(tc.stream)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("%v", err)
			case tc.ok:
			case err == nil:
				t.Fatalf("no error")
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("%v, want %v", err, tc.want)
			case !strings.Contains(err.Error(), run.ID()) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.stream)):
				t.Errorf("%q does not name the run %s and the stream %q", err, run.ID(), tc.stream)
			}
		})
	}
	rep := mustVerify(t, run.Dir())
	if len(rep.StreamEvents) != 2 {
		t.Errorf("stream events %+v, want sources/b added and removed", rep.StreamEvents)
	}
	if _, err := os.Stat(filepath.Join(run.Dir(), "sources", "c")); !os.IsNotExist(err) {
		t.Errorf("a folder was made for a stream refused: %v", err)
	}
}

// Points join and leave from several goroutines while Status is read and
// the run is stopped: every call ends cleanly or with ErrRunStopped, the
// run verifies, and each point's lines lie between its joining and leaving.
func TestConcurrentAddRemoveStop(t *testing.T) {
	clip := makeClip(t, "320x180", 2, "")
	rec := startRecorder(t, Config{Root: t.TempDir(), Segment: time.Second, Part: 100 * time.Millisecond, GapTimeout: time.Minute})
	fc := newFeeder(clip, "composite", 8)
	run, err := rec.StartRun("busy", streamsOf(map[string]*feeder{"composite": fc}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t, 2*time.Minute)
	stopped := make(chan struct{})
	const points = 4
	var cycles atomic.Int64
	var done [points]int // cycles each point completed
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	wg.Go(func() { // the composite, until the run stops
		for {
			select {
			case <-stopped:
				return
			default:
			}
			if err := fc.feedUntil(ctx, fc.fed+200*time.Millisecond); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-stopped:
				return
			default:
				run.Status()
				time.Sleep(time.Millisecond)
			}
		}
	})
	for i := range points {
		name := fmt.Sprintf("sources/p%d", i)
		fd := newFeeder(clip, name, 8)
		wg.Go(func() {
			for {
				if err := run.AddStream(name, fd.stream); err != nil {
					if !errors.Is(err, ErrRunStopped) {
						errs <- err
					}
					return
				}
				// A second holds a keyframe: the GOP the stream kept from
				// its last stay was recorded then, and is not again.
				if err := fd.feedUntil(ctx, fd.fed+time.Second); err != nil {
					errs <- err
					return
				}
				if err := run.RemoveStream(name); err != nil {
					if !errors.Is(err, ErrRunStopped) {
						errs <- err
					}
					return
				}
				cycles.Add(1)
				done[i]++
			}
		})
	}
	waitFor(t, "points joining and leaving", func() bool { return cycles.Load() >= 20 }, nil)
	if err := run.Stop(); err != nil {
		t.Error(err)
	}
	close(stopped)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	rep := mustVerify(t, run.Dir())
	if !rep.Sealed || len(rep.StreamEvents) < 2*20 {
		t.Errorf("sealed %v, %d stream events; want sealed, at least 40", rep.Sealed, len(rep.StreamEvents))
	}
	lines := manifestOf(t, run.Dir())
	checkMembership(t, lines)
	perStream := map[string][]string{}
	for _, l := range lines {
		if l.kind() == "segment" {
			perStream[*l.line.Stream] = append(perStream[*l.line.Stream], *l.line.File)
		}
	}
	for stream, files := range perStream {
		if got, want := strings.Join(files, " "), strings.Join(wantFiles(stream, len(files)), " "); got != want {
			t.Errorf("%s: files %s, want %s", stream, got, want)
		}
	}
	for i, n := range done {
		// Each stay saw a keyframe, so left at least one segment.
		name := fmt.Sprintf("sources/p%d", i)
		t.Logf("%s: %d stays, %d segments", name, n, len(perStream[name]))
		if len(perStream[name]) < n {
			t.Errorf("%s: %d segments for %d stays", name, len(perStream[name]), n)
		}
	}
	st := run.Status()
	if st.Active || st.Segments != rep.Segments || len(st.Streams) != 5 {
		t.Errorf("status: active %v, %d segments (verify %d), %d streams", st.Active, st.Segments, rep.Segments, len(st.Streams))
	}
}

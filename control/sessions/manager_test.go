package sessions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeMixer struct {
	mu     sync.Mutex
	layout string
	comp   *pipeline.Stream
	// points taking part, ops done to them ("+id", "-id", "=id", "order
	// a,b"), and room for how many (0: any).
	points []string
	ops    []string
	room   int
}

func (f *fakeMixer) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (f *fakeMixer) Composite() *pipeline.Stream   { return f.comp }
func (f *fakeMixer) Archive() *pipeline.Stream     { return f.comp }
func (f *fakeMixer) ReturnFeed(p string) *pipeline.Stream {
	if p == "tinh" {
		return f.comp
	}
	return nil
}
func (f *fakeMixer) SetLayout(l, _ string) error {
	f.mu.Lock()
	f.layout = l
	f.mu.Unlock()
	return nil
}
func (f *fakeMixer) SetPoint(p Point) error { f.op("=" + p.ID); return nil }
func (f *fakeMixer) Stats() CompositeStats  { return CompositeStats{FPS: 30, Encoder: "x264enc"} }

func (f *fakeMixer) op(s string) {
	f.mu.Lock()
	f.ops = append(f.ops, s)
	f.mu.Unlock()
}

func (f *fakeMixer) AddPoint(p Point, s *pipeline.Stream) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.room > 0 && len(f.points) >= f.room {
		return fmt.Errorf("add %s: %w", p.ID, ErrCompositeFull)
	}
	if s == nil {
		return errors.New("no stream")
	}
	f.points = append(f.points, p.ID)
	f.ops = append(f.ops, "+"+p.ID)
	return nil
}

func (f *fakeMixer) RemovePoint(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.points) == 1 {
		return errors.New("the last point stays")
	}
	f.points = slices.DeleteFunc(f.points, func(p string) bool { return p == id })
	f.ops = append(f.ops, "-"+id)
	return nil
}

func (f *fakeMixer) Reorder(ids []string) error {
	f.op("order " + strings.Join(ids, ","))
	return nil
}

// takeOps returns the ops so far and forgets them.
func (f *fakeMixer) takeOps() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ops := f.ops
	f.ops = nil
	return ops
}

type fakeRecording struct {
	mu      sync.Mutex
	stopped bool
	ops     []string
}

func (f *fakeRecording) Stop() error { f.stopped = true; return nil }
func (f *fakeRecording) AddStream(name string, _ *pipeline.Stream) error {
	f.mu.Lock()
	f.ops = append(f.ops, "+"+name)
	f.mu.Unlock()
	return nil
}
func (f *fakeRecording) RemoveStream(name string) error {
	f.mu.Lock()
	f.ops = append(f.ops, "-"+name)
	f.mu.Unlock()
	return nil
}
func (f *fakeRecording) Status() RecordingStatus {
	return RecordingStatus{Active: !f.stopped, Run: "20261126T000000Z"}
}

type fakeRecorder struct {
	mu      sync.Mutex
	streams map[string]*pipeline.Stream
	runs    []*fakeRecording
	fail    error
}

func (f *fakeRecorder) StartRun(_ string, s map[string]*pipeline.Stream) (Recording, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	f.streams = s
	r := &fakeRecording{}
	f.runs = append(f.runs, r)
	return r, nil
}

type harness struct {
	m      *Manager
	rec    *fakeRecorder
	mixer  *fakeMixer
	states chan string
	served chan string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{rec: &fakeRecorder{}, mixer: &fakeMixer{comp: pipeline.NewStream("composite")}, states: make(chan string, 16), served: make(chan string, 16)}
	streams := map[string]*pipeline.Stream{}
	for _, id := range []string{"tinh", "xa-a", "xa-b", "xa-c"} {
		streams[id] = pipeline.NewStream(id)
	}
	m, err := New(slog.New(slog.DiscardHandler), Deps{
		Stream:    func(id string) (*pipeline.Stream, bool) { s, ok := streams[id]; return s, ok },
		SaveState: func(_ context.Context, id, st string, _ time.Time) error { h.states <- st; return nil },
		Mixer: func(sp Spec, _ map[string]*pipeline.Stream) (Composite, error) {
			for _, p := range sp.Points {
				h.mixer.points = append(h.mixer.points, p.ID)
			}
			return h.mixer, nil
		},
		Recorder: h.rec,
		Serve: func(path string, _ *pipeline.Stream) func() {
			h.served <- "+" + path
			return func() { h.served <- "-" + path }
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	testkit.Start(t, "sessions", m.Run)
	return h
}

func spec() Spec {
	return Spec{ID: "demo", Layout: "grid", Record: true, Points: []Point{{ID: "tinh", Source: "tinh"}, {ID: "xa-a", Source: "xa-a"}}}
}

func next(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("timed out")
		return ""
	}
}

func TestLiveSessionRecordsAndSealsOnStop(t *testing.T) {
	h := newHarness(t)
	if err := h.m.Start(spec(), StateLive); err != nil {
		t.Fatal(err)
	}
	if s := next(t, h.states); s != StateLive {
		t.Fatalf("state %s, want live", s)
	}
	if p := next(t, h.served); p != "+sessions/demo" {
		t.Fatalf("served %s", p)
	}
	if err := h.m.Start(spec(), StateLive); !errors.Is(err, ErrRunning) {
		t.Fatalf("second start: %v, want ErrRunning", err)
	}
	if err := h.m.SetLayout("demo", "pip", "tinh"); err != nil {
		t.Fatal(err)
	}
	// The run's recording shows in the status once it has begun (a CI dry
	// run read it a moment too early once).
	testkit.Eventually(t, 5*time.Second, "the live session's status: mixer at 30 fps, recording", func() bool {
		st, ok := h.m.Status("demo")
		return ok && st.Mixer != nil && st.Mixer.FPS == 30 && st.Recording.Active
	})
	if s, err := h.m.Stream("demo", "tinh"); err != nil || s == nil {
		t.Fatalf("return feed: %v", err)
	}
	if _, err := h.m.Stream("demo", "nope"); err == nil {
		t.Fatal("return feed of an unknown point should fail")
	}
	if err := h.m.Stop("demo"); err != nil {
		t.Fatal(err)
	}
	if s := next(t, h.states); s != StateEnded {
		t.Fatalf("state %s, want ended", s)
	}
	if !h.rec.runs[0].stopped {
		t.Fatal("the archive run was not stopped (sealed)")
	}
	for _, want := range []string{"composite", "sources/tinh", "sources/xa-a"} {
		if h.rec.streams[want] == nil {
			t.Errorf("stream %s not recorded", want)
		}
	}
	if p := next(t, h.served); p != "-sessions/demo" {
		t.Fatalf("unserved %s", p)
	}
	if _, ok := h.m.Running("demo"); ok {
		t.Fatal("still running after stop")
	}
	if err := h.m.Stop("demo"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("stop again: %v", err)
	}
}

func TestRehearsalRecordsNothing(t *testing.T) {
	h := newHarness(t)
	if err := h.m.Start(spec(), StateRehearsal); err != nil {
		t.Fatal(err)
	}
	next(t, h.states)
	if err := h.m.Stop("demo"); err != nil {
		t.Fatal(err)
	}
	if s := next(t, h.states); s != StateIdle {
		t.Fatalf("after a rehearsal the session is %s, want idle", s)
	}
	if len(h.rec.runs) != 0 {
		t.Fatal("a rehearsal was recorded")
	}
}

func TestStartRefusals(t *testing.T) {
	h := newHarness(t)
	bad := spec()
	bad.Points[1].Source = "gone"
	tests := []struct {
		name string
		spec Spec
		mode string
	}{
		{"unknown source", bad, StateLive},
		{"bad mode", spec(), "party"},
		{"no points", Spec{ID: "x"}, StateLive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := h.m.Start(tc.spec, tc.mode); err == nil {
				t.Fatal("start accepted")
			}
		})
	}
}

func TestRecorderFailureKeepsSessionRunning(t *testing.T) {
	h := newHarness(t)
	h.rec.fail = errors.New("disk full")
	if err := h.m.Start(spec(), StateLive); err != nil {
		t.Fatal(err)
	}
	next(t, h.states)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, ok := h.m.Status("demo")
		if !ok {
			t.Fatal("session stopped because its recorder failed")
		}
		if st.Recording.Error != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status should carry the recording error: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartBeforeRunAndAfterStop(t *testing.T) {
	m, err := New(slog.New(slog.DiscardHandler), Deps{
		Stream: func(id string) (*pipeline.Stream, bool) { return pipeline.NewStream(id), true },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(spec(), StateRehearsal); err != nil {
		t.Fatalf("start before Run: %v", err)
	}
	if err := testkit.Start(t, "sessions", m.Run).Stop(); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Running("demo"); ok {
		t.Fatal("session still running after Run returned")
	}
	if err := m.Start(spec(), StateLive); !errors.Is(err, ErrStopping) {
		t.Fatalf("start after Run: %v, want ErrStopping", err)
	}
}

func TestShutdownStopsRunningSessions(t *testing.T) {
	h := newHarness(t)
	if err := h.m.Start(spec(), StateLive); err != nil {
		t.Fatal(err)
	}
	next(t, h.states)
	// The cleanup cancels Run; goleak in TestMain proves nothing is left.
}

// run is the newest archive run, or nil.
func (f *fakeRecorder) run() *fakeRecording {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.runs) == 0 {
		return nil
	}
	return f.runs[len(f.runs)-1]
}

// takeOps returns the stream joins and leaves so far and forgets them.
func (f *fakeRecording) takeOps() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ops := f.ops
	f.ops = nil
	return ops
}

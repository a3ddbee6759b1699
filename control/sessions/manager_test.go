package sessions

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"diemcau/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeMixer struct {
	mu     sync.Mutex
	layout string
	comp   *pipeline.Stream
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
func (f *fakeMixer) SetPoint(Point) error  { return nil }
func (f *fakeMixer) Stats() CompositeStats { return CompositeStats{FPS: 30, Encoder: "x264enc"} }

type fakeRecording struct{ stopped bool }

func (f *fakeRecording) Stop() error { f.stopped = true; return nil }
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
	streams := map[string]*pipeline.Stream{"tinh": pipeline.NewStream("tinh"), "xa-a": pipeline.NewStream("xa-a")}
	m, err := New(slog.New(slog.DiscardHandler), Deps{
		Stream:    func(id string) (*pipeline.Stream, bool) { s, ok := streams[id]; return s, ok },
		SaveState: func(_ context.Context, id, st string, _ time.Time) error { h.states <- st; return nil },
		Mixer:     func(Spec, map[string]*pipeline.Stream) (Composite, error) { return h.mixer, nil },
		Recorder:  h.rec,
		Serve: func(path string, _ *pipeline.Stream) func() {
			h.served <- "+" + path
			return func() { h.served <- "-" + path }
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
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
	if st, ok := h.m.Status("demo"); !ok || st.Mixer.FPS != 30 || !st.Recording.Active {
		t.Fatalf("status %+v", st)
	}
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	cancel()
	<-done
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

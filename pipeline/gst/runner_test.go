package gst

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"diemcau/internal/testkit"
)

func TestRunnerConfigValidate(t *testing.T) {
	noop := func(Sample) {}
	tests := []struct {
		name  string
		cfg   RunnerConfig
		field string
	}{
		{"no launch", RunnerConfig{}, "launch"},
		{"sink without name", RunnerConfig{Launch: "fakesrc ! fakesink", Sinks: []SinkConfig{{OnSample: noop}}}, "sinks[0].name"},
		{"sink without callback", RunnerConfig{Launch: "fakesrc ! fakesink", Sinks: []SinkConfig{{Name: "a"}}}, "sinks[0].on_sample"},
		{"name twice", RunnerConfig{Launch: "fakesrc ! fakesink", Sinks: []SinkConfig{{Name: "a", OnSample: noop}}, Sources: []SourceConfig{{Name: "a"}}}, "sources[0].name"},
		{"negative timeout", RunnerConfig{Launch: "fakesrc ! fakesink", StateTimeout: -1}, "state_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRunner(tc.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("got %v, want an error naming %s", err, tc.field)
			}
		})
	}
}

func TestRunnerErrors(t *testing.T) {
	tests := []struct {
		name    string
		launch  string
		sinks   []SinkConfig
		wantErr string
	}{
		{"unknown element", "videotestsrc ! nosuchelement ! fakesink", nil, "parse"},
		{"missing appsink", "videotestsrc num-buffers=1 ! fakesink", []SinkConfig{{Name: "out", OnSample: func(Sample) {}}}, `appsink "out": not in the pipeline`},
		{"not negotiated", "videotestsrc num-buffers=5 ! audio/x-raw ! fakesink", nil, "pipeline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r, err := NewRunner(RunnerConfig{Name: "bad", Launch: tc.launch, Sinks: tc.sinks}, testkit.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			err = r.Run(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
			if ctx.Err() != nil {
				t.Fatal("Run waited for the timeout instead of failing")
			}
		})
	}
}

// TestRunnerStopsLivePipeline: a live pipeline never ends by itself; ending
// ctx must stop it through EOS and NULL, and Run must return.
func TestRunnerStopsLivePipeline(t *testing.T) {
	needElements(t, "x264enc")
	var got atomic.Int64
	r, err := NewRunner(RunnerConfig{
		Name:   "live",
		Launch: "videotestsrc is-live=true ! video/x-raw,width=320,height=180,framerate=30/1 ! " + x264Fragment(60, 300) + " ! appsink name=out sync=false",
		Sinks:  []SinkConfig{{Name: "out", MaxBuffers: 4, OnSample: func(Sample) { got.Add(1) }}},
	}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	run := testkit.Start(t, "live runner", r.Run)
	run.Eventually(30*time.Second, "samples from a live pipeline", func() bool { return got.Load() >= 5 })
	if err := run.Stop(); err != nil {
		t.Fatalf("after cancel: %v", err)
	}
}

// TestAppSourceRoundTrip pushes raw pictures from Go through x264 and back.
func TestAppSourceRoundTrip(t *testing.T) {
	needElements(t, "x264enc")
	const w, h = 320, 180
	var got atomic.Int64
	var keys atomic.Int64
	r, err := NewRunner(RunnerConfig{
		Name:    "appsrc",
		Launch:  "appsrc name=in ! " + x264Fragment(10, 300) + " ! appsink name=out sync=false",
		Sources: []SourceConfig{{Name: "in", Caps: "video/x-raw,format=I420,width=320,height=180,framerate=10/1"}},
		Sinks: []SinkConfig{{Name: "out", Lossless: true, OnSample: func(s Sample) {
			got.Add(1)
			if s.Key {
				keys.Add(1)
			}
		}}},
	}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	src := r.Source("in")
	if src.Push(make([]byte, w*h*3/2), 0, 0) {
		t.Error("push before the pipeline runs was accepted")
	}
	run := testkit.Start(t, "appsrc runner", r.Run)
	run.WaitReady(r.Ready(), 30*time.Second)
	picture := make([]byte, w*h*3/2)
	for i := range 20 {
		for j := range picture {
			picture[j] = byte(i + j)
		}
		if !src.Push(picture, time.Duration(i)*100*time.Millisecond, 100*time.Millisecond) {
			t.Fatalf("push %d dropped", i)
		}
	}
	src.EndOfStream()
	if err := run.Wait(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got.Load() != 20 || keys.Load() != 2 {
		t.Fatalf("got %d frames with %d keyframes, want 20 with 2", got.Load(), keys.Load())
	}
	if pushed, dropped := src.Counts(); pushed != 20 || dropped != 1 {
		t.Errorf("counts: pushed %d dropped %d", pushed, dropped)
	}
}

func TestVersion(t *testing.T) {
	v := Version()
	if !strings.HasPrefix(v, "1.") {
		t.Fatalf("version %q", v)
	}
	if !HasElement("fakesink") || HasElement("nosuchelement") {
		t.Fatal("HasElement")
	}
}

var _ = errors.Is

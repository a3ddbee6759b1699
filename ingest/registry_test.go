package ingest

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

type stubSim struct {
	id     string
	stream *pipeline.Stream
}

func (s *stubSim) ID() string                    { return s.id }
func (s *stubSim) Stream() *pipeline.Stream      { return s.stream }
func (s *stubSim) Status() Status                { return Status{ID: s.id, State: StateOnline} }
func (s *stubSim) Rename(string)                 {}
func (s *stubSim) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func TestRegistryAddRemoveWhileRunning(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	sim := func(cfg SourceConfig, _ *slog.Logger) (Source, error) {
		return &stubSim{id: cfg.ID, stream: cfg.Feed.Stream()}, nil
	}
	reg := NewRegistry(log, nil, sim)
	if _, err := reg.Add(SourceConfig{ID: "a", URL: "sim://a"}); err != nil {
		t.Fatal(err)
	}
	running := testkit.Start(t, "registry", reg.Run)

	tests := []struct {
		name    string
		cfg     SourceConfig
		wantErr bool
	}{
		{"sim", SourceConfig{ID: "b", URL: "sim://b"}, false},
		{"push", SourceConfig{ID: "enc", URL: "push://enc:pw@"}, false},
		{"anonymous push", SourceConfig{ID: "enc2", URL: "push://", AllowAnonymous: true}, false},
		{"anonymous push not allowed", SourceConfig{ID: "enc3", URL: "push://"}, true},
		{"pull", SourceConfig{ID: "cam", URL: "rtsp://127.0.0.1:1/x", Transport: "tcp"}, false},
		{"duplicate", SourceConfig{ID: "a", URL: "sim://a"}, true},
		{"bad scheme", SourceConfig{ID: "c", URL: "http://x"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reg.Add(tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if got := len(reg.List()); got != 5 {
		t.Fatalf("%d sources, want 5", got)
	}
	s, _ := reg.Stream("b")
	r := s.NewReader(pipeline.ReaderConfig{})
	if err := reg.Remove("b"); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	if _, err := r.Read(rctx); !errors.Is(err, pipeline.ErrStreamClosed) {
		t.Fatalf("reader of a removed source: %v, want ErrStreamClosed", err)
	}
	if err := reg.Remove("b"); !errors.Is(err, ErrNoSource) {
		t.Fatalf("second remove: %v", err)
	}
	if err := running.Stop(); err != nil {
		t.Fatal(err)
	}
}

package control

import (
	"context"
	"time"

	"diemcau/control/sessions"
	"diemcau/control/store"
	"diemcau/ingest"
	"diemcau/pipeline"
	"diemcau/recorder"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type fakeRecordings struct{ root string }

func (f fakeRecordings) Recordings(context.Context, string) ([]recorder.RunInfo, error) {
	return nil, nil
}
func (f fakeRecordings) Root() string { return f.root }

type fakeChecker struct{}

func (fakeChecker) Check(context.Context, string, string) (store.CheckReport, error) {
	return store.CheckReport{}, nil
}

// allDeps has every optional dependency present, so every route registers.
func allDeps(t *testing.T) Deps {
	t.Helper()
	st, err := store.Open(context.Background(), ":memory:", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mgr, err := sessions.New(slog.New(slog.DiscardHandler), sessions.Deps{Stream: func(string) (*pipeline.Stream, bool) { return nil, false }})
	if err != nil {
		t.Fatal(err)
	}
	return Deps{
		Sources: fakeSources{}, SourceAdmin: &fakeRegistry{}, Store: st, Sessions: mgr,
		Checker: fakeChecker{}, Recordings: fakeRecordings{t.TempDir()},
		Probe: func(context.Context, string, time.Duration) (ingest.ProbeReport, error) {
			return ingest.ProbeReport{}, nil
		},
	}
}

// TestOpenAPIMatchesRoutes: every route the server registers (with every
// optional dependency present) is in openapi.yaml, and nothing more.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s, err := New(Config{Listen: ":0"}, slog.New(slog.DiscardHandler), allDeps(t))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	wildcard := regexp.MustCompile(`\{([a-z]+)\.\.\.\}`)
	var registered []string
	for _, p := range s.Patterns() {
		registered = append(registered, wildcard.ReplaceAllString(p, "{$1}"))
	}
	if len(registered) < 25 {
		t.Fatalf("only %d routes registered: allDeps is missing a dependency", len(registered))
	}
	slices.Sort(documented)
	slices.Sort(registered)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.yaml documents %s, which the server does not serve", d)
		}
	}
}

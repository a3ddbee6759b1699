package control

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"diemcau/ingest"
	"diemcau/pipeline"
)

// fakeRegistry stands in for the ingest registry: sources appear with the
// status a real source would start with.
type fakeRegistry struct {
	mu   sync.Mutex
	srcs map[string]ingest.Status
}

func (f *fakeRegistry) List() []ingest.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ingest.Status
	for _, s := range f.srcs {
		out = append(out, s)
	}
	return out
}

func (f *fakeRegistry) Status(id string) (ingest.Status, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.srcs[id]
	return s, ok
}

type fakeSource struct{ st ingest.Status }

func (s fakeSource) ID() string                    { return s.st.ID }
func (s fakeSource) Stream() *pipeline.Stream      { return nil }
func (s fakeSource) Status() ingest.Status         { return s.st }
func (s fakeSource) Rename(string)                 {}
func (s fakeSource) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func (f *fakeRegistry) Add(cfg ingest.SourceConfig) (ingest.Source, error) {
	if strings.HasPrefix(cfg.URL, "rtsp://fail") {
		return nil, fmt.Errorf("source %q: cannot start", cfg.ID)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st := ingest.Status{ID: cfg.ID, Name: cfg.Name, URL: ingest.RedactURL(cfg.URL), State: ingest.StateConnecting}
	f.srcs[cfg.ID] = st
	return fakeSource{st}, nil
}

func (f *fakeRegistry) Update(cfg ingest.SourceConfig) (ingest.Source, error) {
	f.mu.Lock()
	_, ok := f.srcs[cfg.ID]
	f.mu.Unlock()
	if !ok {
		return nil, ingest.ErrNoSource
	}
	return f.Add(cfg)
}

func (f *fakeRegistry) Remove(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.srcs[id]; !ok {
		return ingest.ErrNoSource
	}
	delete(f.srcs, id)
	return nil
}

func TestSourcesCRUD(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := openStore(t, ctx)
	reg := &fakeRegistry{srcs: map[string]ingest.Status{}}
	base := startServer(t, Deps{Sources: reg, SourceAdmin: reg, Store: st})
	const admin, op = "admin-token", "op-token"
	steps := []struct {
		name, method, path, token, body string
		status                          int
		field                           string
	}{
		{"create", "POST", "/api/v1/sources", admin, `{"id":"cam-1","name":"Camera 1","url":"rtsp://user:secret@192.0.2.1/s"}`, 201, ""},
		{"operator may not create", "POST", "/api/v1/sources", op, `{"id":"cam-2","url":"sim://x"}`, 403, ""},
		{"duplicate", "POST", "/api/v1/sources", admin, `{"id":"cam-1","url":"sim://x"}`, 409, "id"},
		{"bad scheme", "POST", "/api/v1/sources", admin, `{"id":"cam-2","url":"http://user:secret@x/"}`, 400, "url"},
		{"bad id", "POST", "/api/v1/sources", admin, `{"id":"Cam 2","url":"sim://x"}`, 400, "id"},
		{"bad transport", "POST", "/api/v1/sources", admin, `{"id":"cam-2","url":"sim://x","transport":"carrier-pigeon"}`, 400, "transport"},
		{"does not start", "POST", "/api/v1/sources", admin, `{"id":"cam-3","url":"rtsp://fail/x"}`, 400, "url"},
		{"push without credentials", "POST", "/api/v1/sources", admin, `{"id":"enc-1","url":"push://"}`, 400, "url"},
		{"push user without password", "POST", "/api/v1/sources", admin, `{"id":"enc-1","url":"push://enc@"}`, 400, "url"},
		{"push with credentials", "POST", "/api/v1/sources", admin, `{"id":"enc-1","url":"push://enc:secret@"}`, 201, ""},
		{"push open on purpose", "POST", "/api/v1/sources", admin, `{"id":"enc-2","url":"push://","allow_anonymous":true}`, 201, ""},
		{"allow_anonymous on a camera", "POST", "/api/v1/sources", admin, `{"id":"cam-4","url":"sim://x","allow_anonymous":true}`, 400, "allow_anonymous"},
		{"closing an open push source needs credentials", "PATCH", "/api/v1/sources/enc-2", admin, `{"allow_anonymous":false}`, 400, "url"},
		{"get", "GET", "/api/v1/sources/cam-1", op, "", 200, ""},
		{"patch", "PATCH", "/api/v1/sources/cam-1", admin, `{"name":"Camera một","transport":"tcp"}`, 200, ""},
		{"patch unknown", "PATCH", "/api/v1/sources/nope", admin, `{"name":"x"}`, 404, ""},
		{"delete", "DELETE", "/api/v1/sources/cam-1", admin, "", 204, ""},
		{"delete again", "DELETE", "/api/v1/sources/cam-1", admin, "", 404, ""},
	}
	for _, tc := range steps {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := do(t, tc.method, base+tc.path, tc.token, tc.body)
			wantAPI(t, status, resp, tc.status, tc.field)
			if fmt.Sprint(resp) != "" && strings.Contains(fmt.Sprint(resp), "secret") {
				t.Fatalf("a camera password reached the API: %v", resp)
			}
		})
	}
	if _, err := st.GetSource(ctx, "cam-3"); err == nil {
		t.Fatal("a source that did not start was kept in the store")
	}
	if src, err := st.GetSource(ctx, "enc-2"); err != nil || !src.AllowAnonymous {
		t.Fatalf("the open push source as stored: %+v, %v", src, err)
	}
	entries, _ := st.ListAudit(ctx, 0, 100)
	for _, e := range entries {
		if strings.Contains(e.Path+e.Target+e.Detail, "secret") {
			t.Fatalf("audit leaks a password: %+v", e)
		}
	}
}

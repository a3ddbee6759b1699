package control

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"diemcau/ingest"
	"diemcau/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeSources map[string]ingest.Status

func (f fakeSources) List() []ingest.Status {
	var out []ingest.Status
	for _, s := range f {
		out = append(out, s)
	}
	return out
}

func (f fakeSources) Status(id string) (ingest.Status, bool) { s, ok := f[id]; return s, ok }

// startServer runs a control server on a loopback port for the test's life.
func startServer(t *testing.T, deps Deps) string {
	t.Helper()
	s, err := New(Config{Listen: "127.0.0.1:0", Tokens: testTokens()}, slog.New(slog.DiscardHandler), deps)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "server", s.Run).WaitReady(s.Listening(), 5*time.Second)
	return "http://" + s.Addr().String()
}

func do(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, m
}

func TestSourcesAPI(t *testing.T) {
	sources := fakeSources{
		"tinh": {ID: "tinh", URL: "rtsp://***@192.0.2.10/stream1", State: ingest.StateOnline},
		"xa-a": {ID: "xa-a", URL: "push://", State: ingest.StateConnecting},
	}
	base := startServer(t, Deps{Sources: sources, Info: func() Info { return Info{Version: "test"} }})
	tests := []struct {
		name, method, path, token string
		status                    int
		errCode                   string
	}{
		{"health needs no token", "GET", "/healthz", "", 200, ""},
		{"ready", "GET", "/readyz", "", 200, ""},
		{"no token", "GET", "/api/v1/sources", "", 401, "unauthorized"},
		{"wrong token", "GET", "/api/v1/sources", "nope", 401, "unauthorized"},
		{"viewer may not list sources", "GET", "/api/v1/sources", "viewer-token", 403, "forbidden"},
		{"operator lists", "GET", "/api/v1/sources", "op-token", 200, ""},
		{"one source", "GET", "/api/v1/sources/tinh", "admin-token", 200, ""},
		{"unknown source", "GET", "/api/v1/sources/nope", "admin-token", 404, "not_found"},
		{"unknown endpoint", "GET", "/api/v1/nothing", "admin-token", 404, "not_found"},
		{"info", "GET", "/api/v1/info", "viewer-token", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, tc.method, base+tc.path, tc.token, "")
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, body)
			}
			if tc.errCode != "" {
				e, _ := body["error"].(map[string]any)
				if e["code"] != tc.errCode || e["message"] == "" {
					t.Fatalf("error body %v, want code %s with a message", body, tc.errCode)
				}
			}
		})
	}
	_, body := do(t, "GET", base+"/api/v1/sources", "op-token", "")
	list, _ := body["sources"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["id"] != "tinh" {
		t.Fatalf("sources = %v", body)
	}
}

func TestBodyOver1MiBIs413(t *testing.T) {
	base := startServer(t, Deps{Sources: fakeSources{}})
	status, _ := do(t, "POST", base+"/api/v1/sources", "admin-token", strings.Repeat("x", maxBody+1))
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", status)
	}
}

func TestRoleAllows(t *testing.T) {
	tests := []struct {
		have, need Role
		want       bool
	}{
		{RoleAdmin, RoleOperator, true}, {RoleOperator, RoleAdmin, false},
		{RoleViewer, RoleViewer, true}, {RoleViewer, RoleOperator, false}, {"", RoleViewer, false},
	}
	for _, tc := range tests {
		if got := tc.have.allows(tc.need); got != tc.want {
			t.Errorf("%s allows %s = %v", tc.have, tc.need, got)
		}
	}
}

func TestMetricsExposeSources(t *testing.T) {
	sources := fakeSources{"tinh": {ID: "tinh", State: ingest.StateOnline, Frames: 42, Video: &ingest.VideoInfo{FPS: 25},
		Sub: &ingest.Status{ID: "tinh", State: ingest.StateOnline, Frames: 7, Video: &ingest.VideoInfo{FPS: 15}}}}
	base := startServer(t, Deps{Sources: sources, Info: func() Info {
		return Info{Version: "t", Encoder: CodecInfo{Element: "x264enc"}}
	}})
	raw := testkit.Scrape(t, base)
	wantMetrics(t, raw,
		`diemcau_source_up{source="tinh"} 1`,
		`diemcau_source_frames_total{source="tinh"} 42`,
		`diemcau_source_state{source="tinh",state="online"} 1`,
		`diemcau_source_sub_up{source="tinh"} 1`,
		`diemcau_source_sub_frames_total{source="tinh"} 7`,
		`diemcau_source_sub_fps{source="tinh"} 15`,
		`diemcau_encoder_hardware{element="x264enc"} 0`,
		`go_goroutines`,
	)
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestWrongMethodIsJSON405(t *testing.T) {
	base := startServer(t, Deps{Sources: fakeSources{}})
	status, body := do(t, "DELETE", base+"/api/v1/info", "admin-token", "")
	e, _ := body["error"].(map[string]any)
	if status != http.StatusMethodNotAllowed || e["code"] != "method_not_allowed" {
		t.Fatalf("status %d body %v", status, body)
	}
}

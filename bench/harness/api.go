package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// API is a client of the server's control plane (docs/api.md), the only
// way the bench drives it, so the same code measures a server it started
// and a --target.
type API struct {
	Base  string // http://host:port
	Token string
	http  *http.Client
}

func newAPI(base, token string) *API {
	return &API{Base: strings.TrimRight(base, "/"), Token: token, http: &http.Client{}}
}

// callTimeout bounds one API call; stopping a session seals its archive
// and may take long on a machine the run has overloaded.
const (
	callTimeout = 30 * time.Second
	stopTimeout = 3 * time.Minute
)

func (a *API) do(ctx context.Context, method, path string, in, out any) error {
	d := callTimeout
	if strings.HasSuffix(path, "/stop") {
		d = stopTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if res.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message, Field string } `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("%s %s: %d %s: %s", method, path, res.StatusCode, e.Error.Code, e.Error.Message)
		}
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// Info is GET /api/v1/info.
type Info struct {
	Version   string `json:"version"`
	GStreamer string `json:"gstreamer"`
	Encoder   Codec  `json:"encoder"`
	Decoder   Codec  `json:"decoder"`
}

func (a *API) Info(ctx context.Context) (Info, error) {
	var i Info
	return i, a.do(ctx, http.MethodGet, "/api/v1/info", nil, &i)
}

// SourceStatus is the part of a source's status the bench reads.
type SourceStatus struct {
	ID          string  `json:"id"`
	State       string  `json:"state"`
	Error       string  `json:"error"`
	Frames      uint64  `json:"frames"`
	PacketsLost uint64  `json:"packets_lost"`
	BitrateKbps float64 `json:"bitrate_kbps"`
	// Sub is the sub-stream's own status (a source with a sub_url).
	Sub *SourceStatus `json:"sub"`
}

// SetSubURL is PATCH /api/v1/sources/{id} {"sub_url": url}.
func (a *API) SetSubURL(ctx context.Context, id, url string) error {
	return a.do(ctx, http.MethodPatch, "/api/v1/sources/"+id, map[string]string{"sub_url": url}, nil)
}

func (a *API) AddSource(ctx context.Context, id, url string) error {
	return a.do(ctx, http.MethodPost, "/api/v1/sources", map[string]string{"id": id, "url": url, "transport": "tcp"}, nil)
}

func (a *API) Source(ctx context.Context, id string) (SourceStatus, error) {
	var s SourceStatus
	return s, a.do(ctx, http.MethodGet, "/api/v1/sources/"+id, nil, &s)
}

func (a *API) DeleteSource(ctx context.Context, id string) error {
	return a.do(ctx, http.MethodDelete, "/api/v1/sources/"+id, nil, nil)
}

// SessionSpec is the body of POST /api/v1/sessions.
type SessionSpec struct {
	ID     string         `json:"id"`
	Title  string         `json:"title"`
	Layout string         `json:"layout"`
	Record bool           `json:"record"`
	Output map[string]int `json:"output"`
	Points []SessionPoint `json:"points"`
}

// SessionPoint is one point of a SessionSpec.
type SessionPoint struct {
	ID     string `json:"id"`
	Source string `json:"source"`
}

// SessionStatus is the part of a session's status the bench reads.
type SessionStatus struct {
	State     string `json:"state"`
	Viewers   int    `json:"viewers"`
	Error     string `json:"error"`
	Recording struct {
		Active      bool    `json:"active"`
		Run         string  `json:"run"`
		Bytes       int64   `json:"bytes"`
		Segments    int     `json:"segments"`
		DiskStopped bool    `json:"disk_stopped"`
		Error       string  `json:"error"`
		FsyncP99Ms  float64 `json:"fsync_p99_ms"`
	} `json:"recording"`
	Points []struct {
		ID   string `json:"id"`
		Feed string `json:"feed"`
	} `json:"points"`
	// Renditions counts the viewers on each rendition (a server with a
	// low rendition); ViewerList has each one's moves between them.
	Renditions map[string]int `json:"renditions"`
	ViewerList []struct {
		Rendition string `json:"rendition"`
		Moves     uint64 `json:"rendition_moves"`
	} `json:"viewer_list"`
	Mixer *struct {
		FPS          float64 `json:"fps"`
		Encoder      string  `json:"encoder"`
		Dropped      uint64  `json:"dropped"`
		LatencyP50Ms float64 `json:"latency_p50_ms"`
		LatencyP95Ms float64 `json:"latency_p95_ms"`
		LatencyP99Ms float64 `json:"latency_p99_ms"`
	} `json:"mixer"`
}

func (a *API) CreateSession(ctx context.Context, s SessionSpec) error {
	return a.do(ctx, http.MethodPost, "/api/v1/sessions", s, nil)
}

func (a *API) StartSession(ctx context.Context, id, mode string) error {
	return a.do(ctx, http.MethodPost, "/api/v1/sessions/"+id+"/start", map[string]string{"mode": mode}, nil)
}

func (a *API) StopSession(ctx context.Context, id string) error {
	return a.do(ctx, http.MethodPost, "/api/v1/sessions/"+id+"/stop", nil, nil)
}

func (a *API) DeleteSession(ctx context.Context, id string) error {
	return a.do(ctx, http.MethodDelete, "/api/v1/sessions/"+id, nil, nil)
}

func (a *API) Session(ctx context.Context, id string) (SessionStatus, error) {
	var s SessionStatus
	return s, a.do(ctx, http.MethodGet, "/api/v1/sessions/"+id, nil, &s)
}

// Ready is GET /readyz (no token).
func (a *API) Ready(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.Base+"/readyz", nil)
	if err != nil {
		return false
	}
	res, err := a.http.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// Metrics reads GET /metrics into name{labels} → value.
func (a *API) Metrics(ctx context.Context) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.Base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %d", res.StatusCode)
	}
	return parseMetrics(res.Body)
}

// parseMetrics reads the Prometheus text format: one sample a line, the
// value after the last space (no timestamps in our exposition).
func parseMetrics(r io.Reader) (map[string]float64, error) {
	m := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

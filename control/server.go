// Package control is diemcau's HTTP control plane: the JSON API of
// docs/api.md, auth, health, metrics and the web pages. WHEP lives in
// control/whep.
package control

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"diemcau/control/sessions"
	"diemcau/control/store"
	"diemcau/control/whep"
	"diemcau/ingest"
	"diemcau/ingest/connlimit"
	"diemcau/internal/fielderr"
)

// maxBody is the largest request body the API reads (docs/api.md: 413 above).
const maxBody = 1 << 20

// Config is the control plane's.
type Config struct {
	// Listen is the HTTP address, e.g. ":8080".
	Listen string
	// TLSCert and TLSKey, both set, serve HTTPS.
	TLSCert, TLSKey string
	// Tokens are the credentials accepted on /api/v1.
	Tokens []Token
	// Limits bound connections and request reading (server_limits.go).
	Limits Limits
}

// Validate names the first bad field by its key under http (the
// tokens' under auth).
func (c Config) Validate() error {
	if c.Listen == "" {
		return fielderr.New("listen", "required")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fielderr.New("listen", "%q is not host:port (e.g. \":8080\")", c.Listen)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fielderr.New("tls", "set both cert and key, or neither")
	}
	for i, t := range c.Tokens {
		if t.Role != RoleAdmin && t.Role != RoleOperator && t.Role != RoleViewer {
			return fielderr.New(fmt.Sprintf("tokens[%d].role", i), "%q is not a role", t.Role)
		}
	}
	return c.Limits.validate()
}

// Sources is what the API needs of the ingest side.
type Sources interface {
	List() []ingest.Status
	Status(id string) (ingest.Status, bool)
}

// Info is the body of GET /api/v1/info.
type Info struct {
	Version   string    `json:"version"`
	GStreamer string    `json:"gstreamer"`
	Encoder   CodecInfo `json:"encoder"`
	Decoder   CodecInfo `json:"decoder"`
	UptimeS   int64     `json:"uptime_s"`
}

// CodecInfo names the element chosen for a codec.
type CodecInfo struct {
	Element  string `json:"element"`
	Hardware bool   `json:"hardware"`
}

// Deps are the components the API reads and drives.
type Deps struct {
	Sources Sources
	Info    func() Info
	// Ready reports whether the pipeline and store are up (GET /readyz).
	Ready func() bool
	// Store holds sessions, checks, invites and the audit log.
	Store *store.Store
	// Sessions runs sessions; nil serves the stored ones read-only.
	Sessions *sessions.Manager
	// SourceAdmin adds and removes running sources; nil makes sources read-only.
	SourceAdmin SourceAdmin
	// Checker runs pre-session checks; nil hides the checks endpoints.
	Checker Checker
	// Recordings reads the archive; nil hides the recordings endpoints.
	Recordings Recordings
	// Probe reads a source's feed for POST /api/v1/sources/{id}/probe.
	Probe Prober
	// Viewers counts a session's WHEP viewers.
	Viewers func(sessionID string) int
	// ViewerStats are a session's WHEP viewers one by one: rendition and
	// path (sessions[].viewer_list, diemcau_viewer_*); nil: none shown.
	ViewerStats func(sessionID string) []whep.ViewerStats
	// Outputs are the state of a session's publishing to WHIP servers
	// (sessions[].outputs, a point node's link to its hub); nil: none.
	Outputs func(sessionID string) []OutputStatus
	// Revoker ends viewers and readers when their invite or session ends;
	// nil: nothing to end.
	Revoker Revoker
}

// Server is the HTTP control plane.
type Server struct {
	cfg     Config
	log     *slog.Logger
	deps    Deps
	mux     *http.ServeMux
	started time.Time
	addr    atomic.Pointer[net.Addr]
	ready   chan struct{}

	registry *prometheus.Registry
	patterns []string

	conns        atomic.Pointer[connlimit.Listener] // the listener's limits, once Run listens
	connCounters connCounters                       // other listeners' refusals, for /metrics
	denied       deniedLog                          // 401 and 403, audited as a summary (audit_denied.go)
	nodes        nodeReports                        // point nodes' own reports (node_reports.go)
}

// New builds the server and its routes; it listens only in Run.
func New(cfg Config, log *slog.Logger, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log.With("component", "http"), deps: deps, mux: http.NewServeMux(), ready: make(chan struct{}), registry: prometheus.NewRegistry()}
	s.routes()
	return s, nil
}

// Handle adds a route (for WHEP and pages, which live in other packages).
func (s *Server) Handle(pattern string, h http.Handler) {
	s.patterns = append(s.patterns, pattern)
	s.mux.Handle(pattern, h)
}

// Patterns lists every route registered, "METHOD /path" (for the OpenAPI test).
func (s *Server) Patterns() []string { return slices.Clone(s.patterns) }

// SetViewers installs the count of a session's WHEP viewers (the WHEP
// server is made after the API, whose auth it uses). Call before Run.
func (s *Server) SetViewers(fn func(sessionID string) int) { s.deps.Viewers = fn }

// SetViewerStats installs what lists a session's WHEP viewers one by one.
// Call before Run.
func (s *Server) SetViewerStats(fn func(sessionID string) []whep.ViewerStats) {
	s.deps.ViewerStats = fn
}

// SetOutputs installs what reports a session's outputs. Call before Run.
func (s *Server) SetOutputs(fn func(sessionID string) []OutputStatus) { s.deps.Outputs = fn }

// OutputStatus is one WHIP output of a session as its status shows it.
type OutputStatus struct {
	Name  string `json:"name"`
	URL   string `json:"url"`
	State string `json:"state"` // connecting, online, offline; idle while the session is not running
	Error string `json:"error,omitempty"`
	// Since is when it entered its state; zero while idle.
	Since      *time.Time `json:"since,omitempty"`
	Connects   uint64     `json:"connects"`
	FramesSent uint64     `json:"frames_sent"`
	// Link is what the output measures of its path, this connection;
	// absent while idle.
	Link *whep.LinkStats `json:"link,omitempty"`
	// ReturnFeed, on a point node's link to its hub, is the other way:
	// the return feed as the node receives it (its source "hub").
	ReturnFeed *ReturnFeed `json:"return_feed,omitempty"`
}

// Registry is where components register their Prometheus collectors.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Addr is the bound address once Run is listening; nil before.
func (s *Server) Addr() net.Addr {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return nil
}

// Listening is closed once Run has bound its address.
func (s *Server) Listening() <-chan struct{} { return s.ready }

// ServeHTTP serves the API; bodies are capped at 1 MiB.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > maxBody {
		writeError(w, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: "request body over 1 MiB"})
		return
	}
	s.bodyDeadline(w, r)
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	s.serveWatched(w, r)
}

// Run listens and serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("http: listen %s: %w", s.cfg.Listen, err)
	}
	a := ln.Addr()
	s.addr.Store(&a)
	s.started = time.Now()
	close(s.ready)
	stopDenied := s.startDeniedLog()
	defer stopDenied()
	srv, ln := s.httpServer(ln)
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLSCert != "" {
			errc <- srv.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	scheme := "http"
	if s.cfg.TLSCert != "" {
		scheme = "https"
	}
	s.log.Info("serving", "addr", a.String(), "scheme", scheme)
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	<-errc
	return nil
}

func (s *Server) handleInfo(w http.ResponseWriter, _ *http.Request) {
	var info Info
	if s.deps.Info != nil {
		info = s.deps.Info()
	}
	info.UptimeS = int64(time.Since(s.started).Seconds())
	writeJSON(w, http.StatusOK, info)
}

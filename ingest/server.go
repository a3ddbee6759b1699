package ingest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"diemcau/ingest/connlimit"
	"diemcau/pipeline"
)

// Server is diemcau's RTSP server: encoders publish to /ingest/{source-id}
// (PushSource), and feeds and composites are re-served to hardware decoders
// at /sources/{id} and /sessions/{id} (Serve). Each served path is
// packetised once by one pipeline.Reader; gortsplib fans the packets out to
// every RTSP reader.
type Server struct {
	cfg ServerConfig
	log *slog.Logger

	ready   chan struct{}
	started atomic.Bool

	mu      sync.Mutex
	rtsp    *gortsplib.Server
	runCtx  context.Context
	closing bool
	paths   map[string]*servedPath
	push    map[string]*PushSource
	addr    net.Addr
	udpAddr net.Addr

	pumps sync.WaitGroup
	conns atomic.Pointer[connlimit.Listener] // the TCP listener's limits, once Run listens

	sessions        atomic.Int64
	writeErrors     errorSummary
	packetizeErrors errorSummary
	rtpErrors       errorSummary

	// Who may read and publish: credentials, grants of readers, refusals.
	internalPass string
	access       accessControl
}

// NewServer validates the config; it starts nothing (see Run).
func NewServer(cfg ServerConfig, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		cfg:   cfg.withDefaults(),
		log:   log.With("component", serverComponentName),
		ready: make(chan struct{}),
		paths: make(map[string]*servedPath),
		push:  make(map[string]*PushSource),
		// The server's own reads (checks, probes) log in with this; it
		// is random per start and never leaves the process.
		internalPass: rand.Text(),
	}
	s.access.init()
	s.writeErrors.what = "RTP packets not queued to RTSP readers"
	s.packetizeErrors.what = "frames that could not be packetised"
	s.rtpErrors.what = "RTP/RTCP packets from encoders that could not be decoded"
	return s, nil
}

// Listening is closed once the server accepts connections (Addr is set).
func (s *Server) Listening() <-chan struct{} { return s.ready }

// Addr is the TCP address the server listens on, nil before Listening.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// UDPAddr is the UDP address of RTP (RTCP is the next port), nil when UDP
// is off or before Listening.
func (s *Server) UDPAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.udpAddr
}

// Serve publishes stream at path ("sources/tinh", "/sessions/demo"),
// replacing what was served there. It may be called before or during Run.
func (s *Server) Serve(path string, stream *pipeline.Stream) error {
	name := cleanPath(path)
	if name == "" || strings.HasPrefix(name+"/", ingestPathPrefix) {
		return fmt.Errorf("rtsp server: cannot serve at %q (empty or reserved for ingest)", path)
	}
	if stream == nil {
		return fmt.Errorf("rtsp server: serve %q: nil stream", path)
	}
	p := &servedPath{name: name, stream: stream, srv: s, viewers: make(map[*gortsplib.ServerSession]struct{})}
	s.mu.Lock()
	old := s.paths[name]
	s.paths[name] = p
	s.mu.Unlock()
	if old != nil {
		old.close()
	}
	return nil
}

// Unserve stops serving path; its RTSP readers are disconnected.
func (s *Server) Unserve(path string) {
	name := cleanPath(path)
	s.mu.Lock()
	p := s.paths[name]
	delete(s.paths, name)
	s.mu.Unlock()
	if p != nil {
		p.close()
	}
}

// AddPushSource accepts publishers for p at /ingest/{p.ID()}. The source's
// own Run must be running for a publisher to be accepted.
func (s *Server) AddPushSource(p *PushSource) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.push[p.ID()]; ok {
		return fmt.Errorf("rtsp server: push source %q already added", p.ID())
	}
	s.push[p.ID()] = p
	return nil
}

// RemovePushSource stops accepting publishers for id and disconnects the
// current one.
func (s *Server) RemovePushSource(id string) {
	s.mu.Lock()
	p := s.push[id]
	delete(s.push, id)
	s.mu.Unlock()
	if p != nil {
		p.kick("source removed")
	}
}

func (s *Server) servedPath(name string) *servedPath {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paths[name]
}

func (s *Server) pushSource(id string) *PushSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.push[id]
}

// ServerStats are the server's counters, for metrics.
type ServerStats struct {
	Sessions        int    // RTSP sessions open, readers and publishers
	Readers         int    // sessions playing a served path
	Publishers      int    // encoders publishing to /ingest
	Paths           int    // served paths
	WriteErrors     uint64 // RTP packets gortsplib could not queue to a reader
	PacketizeErrors uint64 // frames that could not be turned into RTP
	RTPErrors       uint64 // packets from encoders that could not be decoded
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	paths := slices.Collect(maps.Values(s.paths))
	push := slices.Collect(maps.Values(s.push))
	s.mu.Unlock()
	st := ServerStats{
		Sessions:        int(s.sessions.Load()),
		Paths:           len(paths),
		WriteErrors:     s.writeErrors.Total(),
		PacketizeErrors: s.packetizeErrors.Total(),
		RTPErrors:       s.rtpErrors.Total(),
	}
	for _, p := range paths {
		st.Readers += p.viewerCount()
	}
	for _, p := range push {
		if p.publishing() {
			st.Publishers++
		}
	}
	return st
}

// Run listens and serves until ctx ends. It returns after every goroutine
// it started (gortsplib's included) has exited.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("rtsp server: Run called twice")
	}
	l, err := s.listen()
	if err != nil {
		return fmt.Errorf("rtsp server: %w", err)
	}
	srv := &gortsplib.Server{
		Handler:      &rtspHandler{s: s},
		RTSPAddress:  l.tcp.Addr().String(),
		ReadTimeout:  s.cfg.ReadTimeout,
		WriteTimeout: s.cfg.WriteTimeout,
		// Hand gortsplib the sockets opened above, so that port 0 works and
		// the address is known before any client connects.
		Listen:       func(string, string) (net.Listener, error) { return l.tcp, nil },
		ListenPacket: l.packetConn,
		// The server sends its own (server_reports.go): gortsplib's carry a
		// malformed NTP time.
		DisableRTCPSenderReports: true,
	}
	if l.rtp != nil {
		srv.UDPRTPAddress = l.rtp.LocalAddr().String()
		srv.UDPRTCPAddress = l.rtcp.LocalAddr().String()
	}
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	s.mu.Lock()
	s.rtsp = srv
	s.runCtx = runCtx
	s.mu.Unlock()
	if err := srv.Start(); err != nil {
		l.close()
		return fmt.Errorf("rtsp server: start: %w", err)
	}
	s.mu.Lock()
	s.addr = l.tcp.Addr()
	if l.rtp != nil {
		s.udpAddr = l.rtp.LocalAddr()
	}
	s.mu.Unlock()
	close(s.ready)
	s.log.Info("listening", "tcp", s.addr.String(), "udp", addrString(s.udpAddr))
	if s.cfg.AnonymousRead {
		s.log.Warn("rtsp.anonymous_read is on: anyone who reaches this port may read every feed and composite", "tcp", s.addr.String())
	}

	waitErr := make(chan error, 1)
	go func() { waitErr <- srv.Wait() }()
	tick := time.NewTicker(errorSummaryPeriod)
	defer tick.Stop()
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-waitErr:
			runErr = fmt.Errorf("rtsp server: %w", err)
			waitErr = nil
			break loop
		case <-tick.C:
			s.flushErrors()
		}
	}
	s.shutdown(srv, cancelRun)
	if waitErr != nil {
		<-waitErr
	}
	s.flushErrors()
	s.access.flush(s.log, true)
	s.log.Info("stopped")
	return runErr
}

func (s *Server) shutdown(srv *gortsplib.Server, cancelRun context.CancelFunc) {
	s.mu.Lock()
	s.closing = true
	paths := slices.Collect(maps.Values(s.paths))
	s.mu.Unlock()
	cancelRun()
	for _, p := range paths {
		p.closeStream()
	}
	srv.Close()
	s.pumps.Wait()
}

func (s *Server) flushErrors() {
	s.writeErrors.flush(s.log)
	s.access.flush(s.log, false)
	s.packetizeErrors.flush(s.log)
	s.rtpErrors.flush(s.log)
}

// goPump starts fn as a goroutine that Run waits for, with a context that
// cancel (or the end of Run) ends; false once Run is shutting down.
func (s *Server) goPump(fn func(ctx context.Context)) (context.CancelFunc, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.runCtx == nil {
		return nil, false
	}
	ctx, cancel := context.WithCancel(s.runCtx)
	s.pumps.Add(1)
	go func() {
		defer s.pumps.Done()
		defer cancel()
		fn(ctx)
	}()
	return cancel, true
}

// gortsplibServer returns the running gortsplib server, nil when not
// running.
func (s *Server) gortsplibServer() *gortsplib.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	return s.rtsp
}

func cleanPath(p string) string { return strings.Trim(p, "/") }

func addrString(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return a.String()
}

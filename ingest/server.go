package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"diemcau/pipeline"
)

// Defaults of ServerConfig.
const (
	DefaultRTSPListen   = ":8554"
	defaultRTSPTimeout  = 10 * time.Second
	udpDisabled         = "off"
	errorSummaryPeriod  = time.Second
	ingestPathPrefix    = "ingest/"
	maxUDPPairAttempts  = 64
	serverComponentName = "rtsp-server"
)

// ServerConfig configures the RTSP server (the rtsp: section of the config).
type ServerConfig struct {
	// Listen is the TCP address for RTSP (rtsp.listen). Default ":8554".
	Listen string
	// UDPRTPAddress is where RTP over UDP is sent and received; RTCP uses
	// the next port. Empty: the host and port number of Listen (so 8554/udp
	// and 8555/udp by default; one more when that port is odd; a free pair
	// when it is 0). "off" offers TCP only.
	UDPRTPAddress string
	// ReadTimeout and WriteTimeout bound each read and write on a
	// connection. Default 10 s.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// ReadUser and ReadPass, when set, are what every reader of /sources
	// and /sessions must authenticate with (Basic or Digest): the feeds
	// of a citizen reception are not for anyone on the network. Both or
	// neither.
	ReadUser, ReadPass string
}

// Validate names the first bad field.
func (c ServerConfig) Validate() error {
	if c.Listen != "" {
		if _, _, err := splitHostPort(c.Listen); err != nil {
			return fmt.Errorf("rtsp.listen: %w", err)
		}
	}
	if c.UDPRTPAddress != "" && c.UDPRTPAddress != udpDisabled {
		_, port, err := splitHostPort(c.UDPRTPAddress)
		if err != nil {
			return fmt.Errorf("rtsp.udp_rtp_address: %w", err)
		}
		if port != 0 && (port%2 != 0 || port == 65534) {
			return fmt.Errorf("rtsp.udp_rtp_address: RTP port %d must be even and below 65534 (RTCP uses the next one)", port)
		}
	}
	if c.ReadTimeout < 0 {
		return fmt.Errorf("rtsp.read_timeout: %v is negative", c.ReadTimeout)
	}
	if (c.ReadUser == "") != (c.ReadPass == "") {
		return fmt.Errorf("rtsp.read_pass: set both rtsp.read_user and rtsp.read_pass, or neither")
	}
	if c.WriteTimeout < 0 {
		return fmt.Errorf("rtsp.write_timeout: %v is negative", c.WriteTimeout)
	}
	return nil
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.Listen == "" {
		c.Listen = DefaultRTSPListen
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = defaultRTSPTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = defaultRTSPTimeout
	}
	return c
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}

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

	sessions        atomic.Int64
	writeErrors     errorSummary
	packetizeErrors errorSummary
	rtpErrors       errorSummary
	readAuthErrors  errorSummary
}

// LoopbackURL is the URL the server's own process reads path with (the
// pre-session check), credentials included when readers need them; keep
// it out of logs (RedactURL).
func (s *Server) LoopbackURL(path string) (string, error) {
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		return "", errors.New("rtsp server not listening")
	}
	u := url.URL{Scheme: "rtsp", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(addr.Port)), Path: "/" + strings.TrimPrefix(path, "/")}
	if s.cfg.ReadUser != "" {
		u.User = url.UserPassword(s.cfg.ReadUser, s.cfg.ReadPass)
	}
	return u.String(), nil
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
	}
	s.writeErrors.what = "RTP packets not queued to RTSP readers"
	s.readAuthErrors.what = "RTSP readers refused: wrong credentials"
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
	paths := make([]*servedPath, 0, len(s.paths))
	for _, p := range s.paths {
		paths = append(paths, p)
	}
	push := make([]*PushSource, 0, len(s.push))
	for _, p := range s.push {
		push = append(push, p)
	}
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
	s.log.Info("stopped")
	return runErr
}

func (s *Server) shutdown(srv *gortsplib.Server, cancelRun context.CancelFunc) {
	s.mu.Lock()
	s.closing = true
	paths := make([]*servedPath, 0, len(s.paths))
	for _, p := range s.paths {
		paths = append(paths, p)
	}
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
	s.readAuthErrors.flush(s.log)
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

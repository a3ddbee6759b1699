package srt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"diemcau/ingest"
)

// Defaults of Config.
const (
	DefaultListen  = ":8890"
	DefaultLatency = 200 * time.Millisecond
	// DefaultRefusalLogPeriod: refused callers are logged one line per
	// reason at most this often.
	DefaultRefusalLogPeriod = 10 * time.Second
)

// Config is the SRT listener's.
type Config struct {
	// Listen is the UDP address (srt.listen, default ":8890").
	Listen string
	// Latency is the receive latency offered to callers (srt.latency,
	// default 200ms): how long SRT may wait for a lost packet to be sent
	// again. A caller asking for more gets more (SRT takes the larger).
	// At least 4 × the RTT on a lossy path.
	Latency time.Duration
	// RefusalLogPeriod: default DefaultRefusalLogPeriod.
	RefusalLogPeriod time.Duration
}

// Lookup finds the source a caller names (the registry's Get).
type Lookup func(id string) (ingest.Source, bool)

// Server is the SRT listener: it takes a caller's handshake, finds its
// source by stream id, checks the passphrase and hands the connection to
// the source.
type Server struct {
	cfg      Config
	log      *slog.Logger
	lookup   Lookup
	refused  *refusals
	listenOK chan struct{}

	mu   sync.Mutex
	addr net.Addr
}

// New validates cfg; it opens nothing.
func New(cfg Config, log *slog.Logger, lookup Lookup) (*Server, error) {
	if cfg.Listen == "" {
		return nil, errors.New("srt: no listen address")
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("srt: listen %q: %w", cfg.Listen, err)
	}
	if cfg.Latency == 0 {
		cfg.Latency = DefaultLatency
	}
	if cfg.Latency < 20*time.Millisecond || cfg.Latency > 10*time.Second {
		return nil, fmt.Errorf("srt: latency %s: want 20ms to 10s", cfg.Latency)
	}
	if cfg.RefusalLogPeriod <= 0 {
		cfg.RefusalLogPeriod = DefaultRefusalLogPeriod
	}
	if lookup == nil {
		return nil, errors.New("srt: no source lookup")
	}
	log = log.With("component", "srt")
	return &Server{cfg: cfg, log: log, lookup: lookup, refused: newRefusals(log, cfg.RefusalLogPeriod), listenOK: make(chan struct{})}, nil
}

// Latency is the receive latency the listener offers.
func (s *Server) Latency() time.Duration { return s.cfg.Latency }

// Listening is closed once the listener is open.
func (s *Server) Listening() <-chan struct{} { return s.listenOK }

// Addr is the listener's address once open (nil before).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Refused returns the callers refused since start, by reason (every reason
// present, zeros included).
func (s *Server) Refused() map[string]uint64 {
	out := s.refused.totals()
	for _, r := range reasons() {
		out[r] += 0
	}
	return out
}

// NewSourceFactory makes srt:// sources for the registry.
func (s *Server) NewSourceFactory() ingest.Factory {
	return func(cfg ingest.SourceConfig, log *slog.Logger) (ingest.Source, error) {
		return NewSource(cfg, s.cfg.Latency, log)
	}
}

// Run listens until ctx ends; it returns once every connection it accepted
// has been served to its end.
func (s *Server) Run(ctx context.Context) error {
	conf := gosrt.DefaultConfig()
	conf.ReceiverLatency = s.cfg.Latency
	conf.PeerLatency = s.cfg.Latency
	// Encoders of a bridge point sit behind NAT on mobile links: a
	// passing stall must not drop them before our own 2 s idle check.
	conf.PeerIdleTimeout = 3 * time.Second
	if err := conf.Validate(); err != nil {
		return fmt.Errorf("srt: %w", err)
	}
	ln, err := gosrt.Listen("srt", s.cfg.Listen, conf)
	if err != nil {
		return fmt.Errorf("srt: listen %s: %w", s.cfg.Listen, err)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	close(s.listenOK)
	s.log.Info("srt listening", "addr", ln.Addr().String(), "latency", s.cfg.Latency)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				ln.Close()
				return
			case <-stop:
				return
			case now := <-tick.C:
				s.refused.flush(now)
			}
		}
	}()
	var errOut error
	for {
		req, err := ln.Accept2()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, gosrt.ErrListenerClosed) {
				errOut = fmt.Errorf("srt: accept: %w", err)
			}
			break
		}
		if pub, conn := s.handshake(req); pub != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pub.serve(conn)
			}()
		}
	}
	close(stop)
	ln.Close()
	wg.Wait()
	s.refused.flush(time.Now().Add(s.cfg.RefusalLogPeriod))
	return errOut
}

// handshake decides on one caller: its source, its passphrase, and that
// the source is free. It returns the publisher to serve, with its
// connection (nil when the accept failed), or nil when refused.
func (s *Server) handshake(req gosrt.ConnRequest) (*publisher, gosrt.Conn) {
	remote := req.RemoteAddr().String()
	sid := req.StreamId()
	refuse := func(code gosrt.RejectionReason, reason, msg, source string) (*publisher, gosrt.Conn) {
		req.Reject(code)
		s.refused.add(reason, msg, remote, sid, source, time.Now())
		return nil, nil
	}
	id, err := parseStreamID(sid)
	if err != nil {
		if errors.Is(err, errModeNotPublish) {
			return refuse(gosrt.REJX_BAD_MODE, reasonNotPublish, err.Error(), "")
		}
		return refuse(gosrt.REJX_BAD_REQUEST, reasonBadStreamID, "stream id: "+err.Error(), "")
	}
	found, ok := s.lookup(id)
	if !ok {
		return refuse(gosrt.REJX_NOTFOUND, reasonUnknownSource, fmt.Sprintf("no source %q", id), "")
	}
	src, ok := found.(*Source)
	if !ok {
		return refuse(gosrt.REJX_NOTFOUND, reasonNotSRT, fmt.Sprintf("source %q is not an srt:// source", id), "")
	}
	switch {
	case src.passphrase == "" && req.IsEncrypted():
		// No key to decrypt with: the caller would send only noise.
		return refuse(gosrt.REJ_UNSECURE, reasonUnexpectedPass, "caller encrypts, but the source has no passphrase (allow_anonymous): remove the encoder's passphrase or set one on the source", id)
	case src.passphrase != "" && !req.IsEncrypted():
		src.slot.SetStateIfIdle(src.tracker, ingest.StateError, "encoder sent no passphrase")
		return refuse(gosrt.REJ_UNSECURE, reasonNoPassphrase, "caller sent no passphrase; the source needs one", id)
	case src.passphrase != "":
		// gosrt checks it by unwrapping the caller's key material; the
		// error says nothing of the secret either way.
		if err := req.SetPassphrase(src.passphrase); err != nil {
			src.slot.SetStateIfIdle(src.tracker, ingest.StateError, "encoder sent a wrong passphrase")
			return refuse(gosrt.REJ_BADSECRET, reasonWrongPassphrase, "wrong passphrase (or key length the caller cannot use)", id)
		}
	}
	pub := newPublisher(src, remote, req.IsEncrypted())
	if err := src.slot.Claim(pub); err != nil {
		if errors.Is(err, ingest.ErrSourceStopped) {
			return refuse(gosrt.REJX_DOWN, reasonNotRunning, fmt.Sprintf("source %q is not running", id), id)
		}
		return refuse(gosrt.REJX_CONFLICT, reasonBusy, fmt.Sprintf("source %q already has an encoder", id), id)
	}
	conn, err := req.Accept()
	if err != nil {
		s.refused.add(reasonAcceptFailed, err.Error(), remote, sid, id, time.Now())
		return pub, nil
	}
	return pub, conn
}

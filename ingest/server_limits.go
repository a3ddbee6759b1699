package ingest

import (
	"net"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"

	"diemcau/ingest/connlimit"
	"diemcau/internal/fielderr"
)

// Defaults of ServerLimits.
const (
	// DefaultRTSPMaxConns: far above what a province's cameras, encoders
	// and hardware decoders open, and a few MB of goroutines and buffers.
	DefaultRTSPMaxConns = 1000
	// DefaultRTSPMaxConnsPerIP: a commune behind one NAT address reads a
	// few feeds; a single host never needs more.
	DefaultRTSPMaxConnsPerIP = 100
	// DefaultRTSPFirstRequestTimeout: encoders and decoders send OPTIONS or
	// DESCRIBE at once; 10 s leaves room for a slow link.
	DefaultRTSPFirstRequestTimeout = 10 * time.Second
)

// ServerLimits bound the RTSP server's TCP connections, so that a flood of
// idle ones cannot keep an encoder or a decoder out. Zero takes the
// default; a negative value turns the limit off.
type ServerLimits struct {
	// MaxConns caps open connections (rtsp.max_conns). Default 1000.
	MaxConns int
	// MaxConnsPerIP caps open connections from one address, an IPv6 /64
	// counting as one (rtsp.max_conns_per_ip). Default 100.
	MaxConnsPerIP int
	// FirstRequestTimeout closes a connection that sends no request this
	// long after connecting, or, while it holds no session, this long
	// after its last answer (rtsp.first_request_timeout). A reader that
	// set up or plays and an encoder that announced or records are never
	// cut by it. Default 10 s.
	FirstRequestTimeout time.Duration
}

func (l ServerLimits) validate() error {
	if l.MaxConns > 0 && l.MaxConnsPerIP > l.MaxConns {
		return fielderr.New("max_conns_per_ip", "%d is above max_conns (%d)", l.MaxConnsPerIP, l.MaxConns)
	}
	return nil
}

func (l ServerLimits) withDefaults() ServerLimits {
	if l.MaxConns == 0 {
		l.MaxConns = DefaultRTSPMaxConns
	}
	if l.MaxConnsPerIP == 0 {
		l.MaxConnsPerIP = DefaultRTSPMaxConnsPerIP
	}
	if l.FirstRequestTimeout == 0 {
		l.FirstRequestTimeout = DefaultRTSPFirstRequestTimeout
	}
	return l
}

// connLimits wraps the RTSP listener: over a cap, the connection idle the
// longest (no request yet, or answered and without a session) makes room,
// or the new one is closed before gortsplib sees it.
func (s *Server) connLimits(ln net.Listener) net.Listener {
	l := s.cfg.Limits
	cl := connlimit.New(ln, connlimit.Config{
		Max:                 max(l.MaxConns, 0),
		MaxPerAddr:          max(l.MaxConnsPerIP, 0),
		FirstRequestTimeout: max(l.FirstRequestTimeout, 0),
	})
	s.conns.Store(cl)
	return cl
}

// ConnsRefused counts the connections refused or closed by the limits, by
// reason (connlimit.Reasons), for diemcau_conn_refused_total.
func (s *Server) ConnsRefused() map[string]uint64 {
	if cl := s.conns.Load(); cl != nil {
		return cl.Refused()
	}
	out := map[string]uint64{}
	for _, r := range connlimit.Reasons {
		out[r] = 0
	}
	return out
}

// ConnsOpen is the number of RTSP connections open now.
func (s *Server) ConnsOpen() int {
	if cl := s.conns.Load(); cl != nil {
		return cl.Open()
	}
	return 0
}

// OnResponse tells the limits, as each answer leaves, whether the
// connection holds a session past its start: a reader that set up or
// plays, an encoder that announced or records. Such a connection is never
// closed to make room and has no request deadline (a UDP session's control
// connection may stay silent for minutes). Any other is idle again: an
// OPTIONS or a refused SETUP does not buy a place.
func (h *rtspHandler) OnResponse(sc *gortsplib.ServerConn, _ *base.Response) {
	cl := h.s.conns.Load()
	if cl == nil {
		return
	}
	if ss := sc.Session(); ss != nil && ss.State() != gortsplib.ServerSessionStateInitial {
		cl.SetBusy(sc.NetConn())
		return
	}
	cl.SetIdle(sc.NetConn())
}

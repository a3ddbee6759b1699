package control

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"diemcau/ingest/connlimit"
	"diemcau/internal/fielderr"
)

// Defaults of Limits.
const (
	// DefaultHTTPMaxConns and DefaultHTTPMaxConnsPerIP: a browser opens
	// about six connections to a host; a commune office behind one NAT
	// address with a few dozen viewers stays well under the per-address
	// cap.
	DefaultHTTPMaxConns      = 4096
	DefaultHTTPMaxConnsPerIP = 256
	// DefaultHTTPReadHeaderTimeout bounds the wait for a request's headers
	// (and the TLS handshake before them).
	DefaultHTTPReadHeaderTimeout = 10 * time.Second
	// DefaultHTTPReadTimeout bounds the wait for a request's body: 1 MiB,
	// the largest the API takes, in 60 s is 140 kbit/s.
	DefaultHTTPReadTimeout = 60 * time.Second
	// DefaultHTTPIdleTimeout closes keep-alive connections with no request
	// for this long; browsers reopen them at once.
	DefaultHTTPIdleTimeout = 120 * time.Second
	// DefaultHTTPMaxHeaderBytes: a bearer token and a browser's headers
	// need a few KiB; Go's own default is 1 MiB per request.
	DefaultHTTPMaxHeaderBytes = 64 << 10
)

// Limits bound the HTTP server's connections and the time a client may
// take to send a request. Zero takes the default; a negative value turns
// the limit off. Nothing bounds a response: a recording download may take
// hours, and a stalled one holds one connection of its address's share.
type Limits struct {
	// MaxConns caps open connections (http.max_conns). Default 4096.
	MaxConns int
	// MaxConnsPerIP caps open connections from one address, an IPv6 /64
	// counting as one (http.max_conns_per_ip). Default 256. Behind a
	// reverse proxy every client has the proxy's address: turn it off
	// (-1) there and cap at the proxy.
	MaxConnsPerIP int
	// ReadHeaderTimeout: a request's headers must arrive within it
	// (http.read_header_timeout). Default 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout: a request's body must arrive within it, per request,
	// not per connection (http.read_timeout). Default 60 s.
	ReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection without a request for
	// this long (http.idle_timeout). Default 120 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps a request's header block (http.max_header_bytes).
	// Default 64 KiB.
	MaxHeaderBytes int
}

func (l Limits) validate() error {
	if l.MaxConns > 0 && l.MaxConnsPerIP > l.MaxConns {
		return fielderr.New("max_conns_per_ip", "%d is above max_conns (%d)", l.MaxConnsPerIP, l.MaxConns)
	}
	if l.MaxHeaderBytes > 0 && l.MaxHeaderBytes < 4<<10 {
		return fielderr.New("max_header_bytes", "%d is too small for a browser's headers (at least 4096)", l.MaxHeaderBytes)
	}
	return nil
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxConns, DefaultHTTPMaxConns)
	def(&l.MaxConnsPerIP, DefaultHTTPMaxConnsPerIP)
	def(&l.MaxHeaderBytes, DefaultHTTPMaxHeaderBytes)
	defDur(&l.ReadHeaderTimeout, DefaultHTTPReadHeaderTimeout)
	defDur(&l.ReadTimeout, DefaultHTTPReadTimeout)
	defDur(&l.IdleTimeout, DefaultHTTPIdleTimeout)
	return l
}

// off maps "negative: no limit" to what net/http and connlimit take as
// none (zero).
func off[T int | time.Duration](v T) T { return max(v, 0) }

// httpServer wraps ln in the connection limits and builds the server that
// serves on it. The first-request deadline is net/http's own
// (ReadHeaderTimeout); idle keep-alives and connections that have not
// sent a request yet are what a new connection may push out at a cap.
func (s *Server) httpServer(ln net.Listener) (*http.Server, net.Listener) {
	l := s.cfg.Limits.withDefaults()
	cl := connlimit.New(ln, connlimit.Config{Max: off(l.MaxConns), MaxPerAddr: off(l.MaxConnsPerIP)})
	s.conns.Store(cl)
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: off(l.ReadHeaderTimeout),
		IdleTimeout:       off(l.IdleTimeout),
		MaxHeaderBytes:    off(l.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnState: func(c net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew, http.StateIdle:
				cl.SetIdle(c)
			case http.StateActive, http.StateHijacked:
				cl.SetBusy(c)
			}
		},
	}
	if l.IdleTimeout < 0 {
		// net/http falls back to ReadTimeout, then to none.
		srv.IdleTimeout = 0
	}
	return srv, cl
}

// bodyDeadline bounds the reading of r's body by http.read_timeout, set
// per request through the ResponseController rather than as the server's
// ReadTimeout: that one would also run during the handler and cut the
// request's context under a long answer. The deadline is lifted once the
// body is read.
func (s *Server) bodyDeadline(w http.ResponseWriter, r *http.Request) {
	d := s.cfg.Limits.withDefaults().ReadTimeout
	if d <= 0 || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return
	}
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
		return // a ResponseWriter without deadlines (tests' recorders)
	}
	r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
}

type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !b.done {
		b.done = true
		if errors.Is(err, io.EOF) {
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

// AcceptedFrom reports whether this server accepted the connection whose
// client end is local: the pre-session check uses it to know that it is
// talking to this process, not to another program on the same port.
func (s *Server) AcceptedFrom(local net.Addr) bool {
	cl := s.conns.Load()
	return cl != nil && cl.Accepted(local)
}

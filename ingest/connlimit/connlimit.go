// Package connlimit caps the TCP connections a listener hands to its server:
// in total, per remote address, and in how long a new connection may stay
// silent. It sits between net.Listen and the server (gortsplib's RTSP
// server, net/http), so neither needs to know.
//
// A flood of idle connections must not lock out a camera or an operator:
// at a cap, a new connection takes the place of the one that has waited
// longest for its client (new connections, and those the server marks idle:
// an RTSP connection without a session, an HTTP keep-alive); only when every
// connection is doing work is the new one refused. A real client sends its
// request within milliseconds of connecting, so a flood would have to
// outpace that to push it out.
package connlimit

import (
	"container/list"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Reasons a connection was refused or closed: the reason label of
// diemcau_conn_refused_total.
const (
	ReasonMax                 = "max_conns"             // refused: the listener is full of busy connections
	ReasonMaxPerAddr          = "max_conns_per_ip"      // refused: its address holds its cap of busy connections
	ReasonEvicted             = "evicted_idle"          // closed: an idle connection made room for a new one
	ReasonFirstRequestTimeout = "first_request_timeout" // closed: idle past the request deadline
)

// Reasons lists every reason, for metrics that show zeros.
var Reasons = []string{ReasonMax, ReasonMaxPerAddr, ReasonEvicted, ReasonFirstRequestTimeout}

// Config is a listener's limits. Zero values turn a limit off.
type Config struct {
	// Max caps the open connections.
	Max int
	// MaxPerAddr caps the open connections from one remote address (an
	// IPv4 address, or an IPv6 /64: one host's share of addresses).
	MaxPerAddr int
	// FirstRequestTimeout closes a connection that stays idle this long:
	// from its accept (its first request must come in time), and from each
	// SetIdle (the server answered and holds nothing for it: RTSP without a
	// session). SetBusy lifts it. Leave it zero where the server has its
	// own (net/http's ReadHeaderTimeout and IdleTimeout).
	FirstRequestTimeout time.Duration
}

// Listener wraps a net.Listener with Config's limits.
type Listener struct {
	net.Listener
	cfg Config

	mu     sync.Mutex
	open   int
	byAddr map[string]*addrConns
	byPeer map[string]*Conn // by remote address:port, for Accepted
	idle   list.List        // of *Conn that may be evicted, oldest first

	refused      [4]atomic.Uint64 // by index in Reasons
	acceptErrors atomic.Uint64
	closed       chan struct{}
	closeOnce    sync.Once
}

type addrConns struct {
	open int
	idle list.List // of *Conn
}

// New wraps ln; the caller keeps using the result as its listener.
func New(ln net.Listener, cfg Config) *Listener {
	return &Listener{Listener: ln, cfg: cfg, byAddr: map[string]*addrConns{}, byPeer: map[string]*Conn{}, closed: make(chan struct{})}
}

// Accept returns the next connection within the limits; connections over
// them are closed here and counted, never handed to the server. When the
// process is out of file descriptors (or the kernel of buffers) it waits
// and tries again, as net/http does: gortsplib would take any accept error
// as the end of its server.
func (l *Listener) Accept() (net.Conn, error) {
	var backoff time.Duration
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			if !transient(err) {
				return nil, err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.acceptErrors.Add(1)
			select {
			case <-time.After(backoff):
				continue
			case <-l.closed:
				return nil, err
			}
		}
		backoff = 0
		if c := l.admit(nc); c != nil {
			return c, nil
		}
	}
}

// transient accept errors pass once connections close; the connection
// waiting in the kernel's queue is taken on a later try.
func transient(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Close stops accepting; connections already admitted stay open.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// AcceptErrors counts accepts that failed for want of descriptors or
// buffers and were tried again.
func (l *Listener) AcceptErrors() uint64 { return l.acceptErrors.Load() }

func (l *Listener) admit(nc net.Conn) *Conn {
	key := AddrKey(nc.RemoteAddr())
	var victims []*Conn
	l.mu.Lock()
	a := l.byAddr[key]
	if a == nil {
		a = &addrConns{}
		l.byAddr[key] = a
	}
	reason := ""
	if l.cfg.MaxPerAddr > 0 && a.open >= l.cfg.MaxPerAddr {
		if v := a.idle.Front(); v != nil {
			victims = append(victims, l.releaseLocked(v.Value.(*Conn)))
		} else {
			reason = ReasonMaxPerAddr
		}
	}
	if reason == "" && l.cfg.Max > 0 && l.open >= l.cfg.Max {
		if v := l.idle.Front(); v != nil {
			victims = append(victims, l.releaseLocked(v.Value.(*Conn)))
		} else {
			reason = ReasonMax
		}
	}
	var c *Conn
	if reason == "" {
		c = &Conn{Conn: nc, l: l, key: key, peer: nc.RemoteAddr().String()}
		l.open++
		a.open++
		l.byPeer[c.peer] = c
		l.idleLocked(c, a)
	} else if a.open == 0 {
		delete(l.byAddr, key)
	}
	l.mu.Unlock()
	for _, v := range victims {
		l.count(ReasonEvicted)
		_ = v.Conn.Close()
	}
	if c == nil {
		l.count(reason)
		_ = nc.Close()
		return nil
	}
	if d := l.cfg.FirstRequestTimeout; d > 0 {
		c.waitBy = time.Now().Add(d)
		_ = nc.SetReadDeadline(c.waitBy)
	}
	return c
}

// idleLocked puts c at the back of the eviction queues (again: it waits
// from now).
func (l *Listener) idleLocked(c *Conn, a *addrConns) {
	if c.released {
		return
	}
	l.busyLocked(c, a)
	c.idleAt = l.idle.PushBack(c)
	c.addrAt = a.idle.PushBack(c)
}

func (l *Listener) busyLocked(c *Conn, a *addrConns) {
	if c.idleAt == nil {
		return
	}
	l.idle.Remove(c.idleAt)
	a.idle.Remove(c.addrAt)
	c.idleAt, c.addrAt = nil, nil
}

// releaseLocked takes c out of the counts (once); the caller closes it.
func (l *Listener) releaseLocked(c *Conn) *Conn {
	if c.released {
		return c
	}
	a := l.byAddr[c.key]
	l.busyLocked(c, a)
	c.released = true
	l.open--
	a.open--
	if a.open == 0 {
		delete(l.byAddr, c.key)
	}
	if l.byPeer[c.peer] == c {
		delete(l.byPeer, c.peer)
	}
	return c
}

// SetIdle marks c (a connection this listener returned, or a tls.Conn over
// one) as waiting for its client from now: it may be closed to make room,
// and FirstRequestTimeout runs again. For net/http's ConnState: StateIdle;
// for RTSP: answered, and without a session.
func (l *Listener) SetIdle(c net.Conn) { l.mark(c, true) }

// SetBusy marks c as doing work, or holding something for its client (an
// RTSP session): it is not closed to make room, and has no request
// deadline. For net/http's ConnState: StateActive, StateHijacked.
func (l *Listener) SetBusy(c net.Conn) { l.mark(c, false) }

func (l *Listener) mark(nc net.Conn, idle bool) {
	c := unwrap(nc)
	if c == nil || c.l != l {
		return
	}
	l.mu.Lock()
	if !c.released {
		if idle {
			l.idleLocked(c, l.byAddr[c.key])
		} else {
			l.busyLocked(c, l.byAddr[c.key])
		}
	}
	l.mu.Unlock()
	if d := l.cfg.FirstRequestTimeout; d > 0 {
		c.setWaiting(idle, d)
	}
}

func unwrap(nc net.Conn) *Conn {
	for nc != nil {
		if c, ok := nc.(*Conn); ok {
			return c
		}
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		nc = u.NetConn()
	}
	return nil
}

// Accepted reports whether this listener holds an open connection from
// remote (address:port as the peer sees its own end): proof, inside the
// process, that a connection dialled to it ended here and not at another
// program listening on the same port.
func (l *Listener) Accepted(remote net.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.byPeer[remote.String()]
	return ok
}

// Open is the number of connections open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Refused returns the count of refused and closed connections by reason.
func (l *Listener) Refused() map[string]uint64 {
	out := make(map[string]uint64, len(Reasons))
	for i, r := range Reasons {
		out[r] = l.refused[i].Load()
	}
	return out
}

func (l *Listener) count(reason string) {
	for i, r := range Reasons {
		if r == reason {
			l.refused[i].Add(1)
			return
		}
	}
}

// AddrKey is the remote address a connection counts against: the IP, or
// for IPv6 its /64 (one subscriber's prefix, where a host picks addresses
// at will).
func AddrKey(a net.Addr) string {
	var ip net.IP
	switch v := a.(type) {
	case *net.TCPAddr:
		ip = v.IP
	case *net.UDPAddr:
		ip = v.IP
	default:
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return a.String()
		}
		ip = net.ParseIP(host)
		if ip == nil {
			return host
		}
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// Conn is a connection the listener admitted.
type Conn struct {
	net.Conn
	l    *Listener
	key  string
	peer string

	// Guarded by l.mu.
	idleAt, addrAt *list.Element
	released       bool

	// The request deadline (FirstRequestTimeout only).
	dmu      sync.Mutex
	busy     bool      // SetBusy: no deadline of ours
	waitBy   time.Time // while not busy: the next request is due by then
	asked    time.Time // the read deadline the server last asked for
	timedOut atomic.Bool
}

// Close closes the connection and gives its place back.
func (c *Conn) Close() error {
	c.l.mu.Lock()
	c.l.releaseLocked(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// setWaiting starts (idle) or lifts (busy) the request deadline.
func (c *Conn) setWaiting(idle bool, d time.Duration) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.busy = !idle
	if idle {
		c.waitBy = time.Now().Add(d)
	}
	_ = c.Conn.SetReadDeadline(c.deadlineLocked(c.asked))
}

// deadlineLocked is the read deadline in force: the server's, or ours
// while the connection waits for a request, whichever is first.
func (c *Conn) deadlineLocked(asked time.Time) time.Time {
	if c.busy || c.waitBy.IsZero() {
		return asked
	}
	if asked.IsZero() || asked.After(c.waitBy) {
		return c.waitBy
	}
	return asked
}

// Read counts the close of a connection that sent no request in time.
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && c.l.cfg.FirstRequestTimeout > 0 {
		c.dmu.Lock()
		ours := !c.busy && !c.waitBy.IsZero() && !time.Now().Before(c.waitBy)
		c.dmu.Unlock()
		if ours && !c.timedOut.Swap(true) {
			c.l.count(ReasonFirstRequestTimeout)
		}
	}
	return n, err
}

// SetReadDeadline keeps the request deadline in force while the
// connection waits: servers clear read deadlines while they wait for a
// request (gortsplib does), which would undo it.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.l.cfg.FirstRequestTimeout <= 0 {
		return c.Conn.SetReadDeadline(t)
	}
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.asked = t
	return c.Conn.SetReadDeadline(c.deadlineLocked(t))
}

// SetDeadline sets both deadlines, the read one as SetReadDeadline does.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// NetConn is the connection under c.
func (c *Conn) NetConn() net.Conn { return c.Conn }

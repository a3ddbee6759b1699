package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
)

// Why a pull failed, as technicians understand it. Each kind has its own
// message so that a status page tells a dead camera from a typo.
type failureKind string

const (
	failRefused     failureKind = "refused"     // nothing listens on the port
	failUnreachable failureKind = "unreachable" // no route to the host
	failDNS         failureKind = "dns"         // the host name does not resolve
	failTimeout     failureKind = "timeout"     // no answer in time
	failNoData      failureKind = "no-data"     // connected, then the camera stopped sending
	failLost        failureKind = "lost"        // the connection broke
	failAuth        failureKind = "auth"        // 401
	failNotFound    failureKind = "not-found"   // 404: wrong path
	failStatus      failureKind = "status"      // another refusal by the camera
	failNotRTSP     failureKind = "not-rtsp"    // the URL is not rtsp:// or rtsps://
	failGarbage     failureKind = "garbage"     // the server does not speak RTSP
	failCodec       failureKind = "codec"       // nothing diemcau can decode
)

// Retry delays. A camera that drops is retried quickly so that it is back
// within about two seconds of answering again; problems that retrying will
// not fix are retried slowly, so a wrong password does not hammer the camera
// (and lock the account, on some models).
const (
	retryMin      = 250 * time.Millisecond
	retryMax      = time.Second
	retryAuth     = 15 * time.Second
	retryConfig   = 5 * time.Second
	connectTimout = 2 * time.Second // TCP connect; SYN is resent after 1 s
)

// pullFailure is a classified error of one connection attempt.
type pullFailure struct {
	kind  failureKind
	state State
	msg   string // for users: free of credentials
	retry time.Duration
}

// errNoData is returned by a session whose camera stopped sending.
type errNoData struct{ after time.Duration }

func (e errNoData) Error() string {
	return fmt.Sprintf("no data from the camera for %.1f s", e.after.Seconds())
}

// errGarbage is returned when the server's first bytes are not RTSP: an
// HTTP server, another protocol on that port, a broken device.
type errGarbage struct{ sample string }

func (e errGarbage) Error() string {
	return fmt.Sprintf("the server sent %q, not RTSP", e.sample)
}

// sniffer keeps the first bytes the server sent on the connection it wraps.
type sniffer struct {
	mu    sync.Mutex
	first []byte
}

func (s *sniffer) wrap(c net.Conn) net.Conn {
	s.mu.Lock()
	s.first = s.first[:0]
	s.mu.Unlock()
	return &sniffConn{Conn: c, s: s}
}

// garbage returns errGarbage when the server sent something and it does not
// start like an RTSP response.
func (s *sniffer) garbage() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.first) == 0 || bytes.HasPrefix(s.first, []byte("RTSP/")) {
		return nil
	}
	line, _, _ := bytes.Cut(s.first, []byte("\n"))
	return errGarbage{sample: string(bytes.TrimSpace(line))}
}

type sniffConn struct {
	net.Conn
	s *sniffer
}

const sniffBytes = 40

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.s.mu.Lock()
		if k := sniffBytes - len(c.s.first); k > 0 {
			c.s.first = append(c.s.first, p[:min(n, k)]...)
		}
		c.s.mu.Unlock()
	}
	return n, err
}

// classifyPullError turns an error of a pull session into a failure with a
// state, a message and a retry delay.
func classifyPullError(err error, rawURL string) pullFailure {
	host := hostOf(rawURL)
	raw := RedactError(err, rawURL)
	f := func(kind failureKind, st State, retry time.Duration, format string, args ...any) pullFailure {
		return pullFailure{kind: kind, state: st, retry: retry, msg: fmt.Sprintf(format, args...)}
	}

	var noData errNoData
	var garbage errGarbage
	var status liberrors.ErrClientBadStatusCode
	var scheme liberrors.ErrClientUnsupportedScheme
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &garbage):
		return f(failGarbage, StateError, retryConfig, "%s does not answer in RTSP (it sent %q): check the port", host, garbage.sample)
	case errors.As(err, &noData):
		return f(failNoData, StateOffline, retryMin, "%s", noData.Error())
	case errors.Is(err, ErrNoSupportedCodec):
		msg := raw
		if i := strings.Index(msg, ErrNoSupportedCodec.Error()); i >= 0 {
			msg = msg[i:]
		}
		return f(failCodec, StateError, retryConfig, "%s", msg)
	case errors.As(err, &status):
		switch status.Code {
		case base.StatusUnauthorized:
			if hasCredentials(rawURL) {
				return f(failAuth, StateError, retryAuth, "wrong username or password")
			}
			return f(failAuth, StateError, retryAuth, "the camera asks for a username and password: put them in the URL (rtsp://user:pass@host/...)")
		case base.StatusNotFound:
			return f(failNotFound, StateError, retryConfig, "the camera has no stream at this path (404 Not Found)")
		case base.StatusUnsupportedTransport:
			return f(failStatus, StateError, retryConfig, "the camera refuses this transport (461 Unsupported Transport): use transport tcp or auto")
		}
		return f(failStatus, StateError, retryConfig, "the camera refused the request: %d %s", status.Code, status.Message)
	case errors.As(err, &scheme):
		return f(failNotRTSP, StateError, retryConfig, "not an RTSP URL: scheme %q (use rtsp:// or rtsps://)", scheme.Scheme)
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return f(failDNS, StateError, retryConfig, "host name %q not found (DNS)", dnsErr.Name)
		}
		return f(failDNS, StateOffline, retryMax, "cannot resolve host name %q (DNS: %s)", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return f(failRefused, StateOffline, retryMin, "connection refused by %s (camera off, or wrong port)", host)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return f(failUnreachable, StateOffline, retryMax, "host %s unreachable (no route: check the address and network)", host)
	case errors.As(err, new(liberrors.ErrClientTCPTimeout)), errors.As(err, new(liberrors.ErrClientUDPTimeout)):
		return f(failNoData, StateOffline, retryMin, "the camera stopped sending (%s)", raw)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout(),
		errors.As(err, new(liberrors.ErrClientRequestTimedOut)):
		return f(failTimeout, StateOffline, retryMin, "timed out: %s does not answer", host)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), isEOF(err):
		return f(failLost, StateOffline, retryMin, "connection to %s lost (%s)", host, raw)
	case isProtocolError(err):
		return f(failGarbage, StateError, retryConfig, "%s does not answer in RTSP (%s)", host, raw)
	}
	return f(failLost, StateOffline, retryMin, "%s", raw)
}

func isEOF(err error) bool {
	return err != nil && (strings.HasSuffix(err.Error(), "EOF") || errors.Is(err, net.ErrClosed))
}

// isProtocolError spots the errors gortsplib returns when the bytes it read
// are not an RTSP response (an HTTP server, a wrong port, a broken device).
// gortsplib has no sentinel for these, so they are recognised by type and
// by message.
func isProtocolError(err error) bool {
	if errors.As(err, new(liberrors.ErrClientSDPInvalid)) ||
		errors.As(err, new(liberrors.ErrClientContentTypeMissing)) ||
		errors.As(err, new(liberrors.ErrClientContentTypeUnsupported)) ||
		errors.As(err, new(liberrors.ErrClientSessionHeaderInvalid)) ||
		errors.As(err, new(liberrors.ErrClientTransportHeaderInvalid)) ||
		errors.As(err, new(liberrors.ErrClientUnexpectedFrame)) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"invalid", "unable to", "malformed", "protocol", "unexpected", "too long", "must be", "expected"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func hostOf(rawURL string) string {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return "the camera"
	}
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "rtsps" {
		return net.JoinHostPort(u.Hostname(), "322")
	}
	return net.JoinHostPort(u.Hostname(), "554")
}

func hasCredentials(rawURL string) bool {
	u, err := base.ParseURL(rawURL)
	return err == nil && u.User != nil && u.User.Username() != ""
}

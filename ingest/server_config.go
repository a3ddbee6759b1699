package ingest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"diemcau/internal/fielderr"
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
	// ReadUser and ReadPass, when set, are one more login a reader of
	// /sources and /sessions may use (rtsp.read_user, rtsp.read_pass),
	// besides API and invite tokens (SetReadAuthorizer). Both or neither.
	ReadUser, ReadPass string
	// ReadDigest offers Digest as well as Basic to readers
	// (rtsp.read_digest). Default false: clients pick Digest whenever it
	// is offered, and a token, kept only as a hash, cannot be checked
	// against a Digest answer; Digest then works for ReadUser only.
	ReadDigest bool
	// AnonymousRead lets anyone who reaches the port read every feed and
	// composite (rtsp.anonymous_read). Default false: the feeds of a
	// citizen reception are not for anyone on the network.
	AnonymousRead bool
	// Limits bound the TCP connections (server_limits.go).
	Limits ServerLimits
}

// Validate names the first bad field.
func (c ServerConfig) Validate() error {
	if c.Listen != "" {
		if _, _, err := splitHostPort(c.Listen); err != nil {
			return fielderr.New("listen", "%w", err)
		}
	}
	if c.UDPRTPAddress != "" && c.UDPRTPAddress != udpDisabled {
		_, port, err := splitHostPort(c.UDPRTPAddress)
		if err != nil {
			return fielderr.New("udp_rtp_address", "%w", err)
		}
		if port != 0 && (port%2 != 0 || port == 65534) {
			return fielderr.New("udp_rtp_address", "RTP port %d must be even and below 65534 (RTCP uses the next one)", port)
		}
	}
	if c.ReadTimeout < 0 {
		return fielderr.New("read_timeout", "%v is negative", c.ReadTimeout)
	}
	if (c.ReadUser == "") != (c.ReadPass == "") {
		return fielderr.New("read_pass", "set both read_user and read_pass, or neither")
	}
	if c.ReadDigest && c.ReadUser == "" {
		return fielderr.New("read_digest", "Digest is only for read_user, which is not set")
	}
	if c.WriteTimeout < 0 {
		return fielderr.New("write_timeout", "%v is negative", c.WriteTimeout)
	}
	return c.Limits.validate()
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
	c.Limits = c.Limits.withDefaults()
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

// LoopbackURL is the URL the server's own process reads path with (the
// pre-session check, probes), with the internal credential, which is
// accepted from loopback only; keep it out of logs (RedactURL).
func (s *Server) LoopbackURL(path string) (string, error) {
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		return "", errors.New("rtsp server not listening")
	}
	u := url.URL{Scheme: "rtsp", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(addr.Port)), Path: "/" + strings.TrimPrefix(path, "/")}
	u.User = url.UserPassword(internalReadUser, s.internalPass)
	return u.String(), nil
}

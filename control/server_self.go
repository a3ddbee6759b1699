package control

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// selfAcceptWait bounds the wait for the server's accept loop to take a
// connection the client already has (the kernel completes it first).
const selfAcceptWait = 2 * time.Second

// SelfClient returns an HTTP client that talks to this server only, and
// the base URL ("http://127.0.0.1:8080") to use with it. The pre-session
// check's WebRTC leg sends a credential to it. The address is the one the
// server bound (loopback when it bound every address), and every
// connection is proved, before a byte is sent, to have been accepted by
// this process (AcceptedFrom): another program listening on the same port
// of another loopback address, or relaying to this server, never receives
// the credential, and its answer is never taken for the server's.
func (s *Server) SelfClient() (*http.Client, string, error) {
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		return nil, "", errors.New("the HTTP server is not listening")
	}
	host := addr.IP
	switch {
	case host == nil || host.Equal(net.IPv4zero):
		host = net.IPv4(127, 0, 0, 1)
	case host.IsUnspecified():
		host = net.IPv6loopback
	}
	target := net.JoinHostPort(host.String(), fmt.Sprint(addr.Port))
	scheme := "http"
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return s.dialSelf(ctx, target)
		},
		ForceAttemptHTTP2:   false,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     30 * time.Second,
	}
	if s.cfg.TLSCert != "" {
		scheme = "https"
		// The certificate names the public host, not the loopback
		// address; the connection itself was proved to be ours.
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return &http.Client{Transport: tr}, scheme + "://" + target, nil
}

// dialSelf connects to target and returns the connection once this server
// has accepted it, or an error (and nothing sent) when it does not.
func (s *Server) dialSelf(ctx context.Context, target string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, err
	}
	by := time.Now().Add(selfAcceptWait)
	for !s.AcceptedFrom(c.LocalAddr()) {
		if time.Now().After(by) || ctx.Err() != nil {
			c.Close()
			return nil, fmt.Errorf("%s answered, but not this server: another program listens there", target)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return c, nil
}

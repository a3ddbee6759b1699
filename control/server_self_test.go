package control

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"diemcau/internal/testkit"
)

// impostor listens on addr and records what each connection sends.
func impostor(t *testing.T, addr string) (got func() string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	recv := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
				b, _ := io.ReadAll(c)
				recv <- string(b)
			}()
		}
	}()
	return func() string {
		var all []string
		for {
			select {
			case s := <-recv:
				all = append(all, s)
			case <-time.After(200 * time.Millisecond):
				return strings.Join(all, "")
			}
		}
	}
}

// TestSelfClient: the check's client reaches this server where it is
// bound and never hands its credential to another program on the same
// port: not on another loopback address (where the old check dialled
// 127.0.0.1 whatever http.listen said), not behind a connection that
// this server did not accept.
func TestSelfClient(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.2:0"}, slog.New(slog.DiscardHandler), Deps{})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "server", s.Run).WaitReady(s.Listening(), 5*time.Second)
	port := s.Addr().(*net.TCPAddr).Port
	got := impostor(t, fmt.Sprintf("127.0.0.1:%d", port))

	client, base, err := s.SelfClient()
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("http://127.0.0.2:%d", port); base != want {
		t.Errorf("base %q, want %q (the address the server bound)", base, want)
	}
	req, _ := http.NewRequest("GET", base+"/healthz", nil)
	req.Header.Set("Authorization", "Bearer check-secret")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d", res.StatusCode)
	}

	// Aimed at the impostor (as if it held the address), the dial is
	// refused before anything is sent.
	c, err := s.dialSelf(context.Background(), fmt.Sprintf("127.0.0.1:%d", port))
	if err == nil {
		c.Close()
		t.Fatal("dialSelf accepted a connection this server never accepted")
	}
	if !strings.Contains(err.Error(), "not this server") {
		t.Errorf("error %q does not say it is not this server", err)
	}
	if sent := got(); strings.Contains(sent, "check-secret") || sent != "" {
		t.Errorf("the impostor received %q", sent)
	}
}

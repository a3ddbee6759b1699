//go:build linux

package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"diemcau/ingest/connlimit"
	"diemcau/internal/testkit"
)

// TestServerIdleFlood: 3000 TCP connections that never send a request (a
// tenth send OPTIONS, are answered, and then say nothing), from 30
// addresses, do not keep an encoder from publishing or a decoder from
// reading, even with the process's descriptors capped so that holding them
// all would exhaust it (gortsplib ends its server at the first failed
// accept); then every one of them is closed by the request deadline or to
// make room, and each close is counted.
func TestServerIdleFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("3000 connections and an encoder: not in -short")
	}
	checkLeaks(t)
	const (
		flood    = 3000
		addrs    = 30
		maxConns = 1000
		deadline = 8 * time.Second
	)
	// Room for the flood's own ends (this process dials them) and the
	// server's cap, and no more: without the cap the server's accepts fail.
	fdLimit := openFDs(t) + flood + maxConns + 300
	limitFDs(t, fdLimit)

	srv := startServerWith(t, testkit.Logger(t), ServerConfig{
		Listen: "127.0.0.1:0", UDPRTPAddress: udpDisabled, ReadUser: "xem", ReadPass: "xem-pass",
		Limits: ServerLimits{MaxConns: maxConns, MaxConnsPerIP: flood / addrs, FirstRequestTimeout: deadline},
	})
	p := runPush(t, srv, "cam", "push://enc:s3cret@")

	start := time.Now()
	idle := dialFlood(t, srv.Addr(), flood, addrs)
	dialled := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// On a loaded machine accepting may outlast the deadline: what the
	// deadline closed counts as taken too.
	testkit.WaitFor(t, ctx, "the flood accepted", func() bool {
		r := srv.ConnsRefused()
		return srv.ConnsOpen()+int(r[connlimit.ReasonEvicted]+r[connlimit.ReasonFirstRequestTimeout]) >= flood
	})
	held := srv.ConnsOpen()
	if held > maxConns {
		t.Fatalf("%d connections open, above the cap of %d", held, maxConns)
	}

	// The camera connects while the flood is held.
	joined := time.Now()
	pub := publish(t, strings.Replace(srv.url, "rtsp://", "rtsp://enc:s3cret@", 1)+"/ingest/cam", publishSpec{transport: "tcp"})
	st := waitOnline(ctx, t, p)
	online := time.Since(joined)
	if online >= deadline {
		t.Logf("note: the encoder took %v, past the idle deadline", online)
	}
	_, packets := playClient(t, strings.Replace(srv.url, "rtsp://", "rtsp://xem:xem-pass@", 1)+"/sources/cam")
	testkit.WaitFor(t, ctx, "a reader receives packets", func() bool { return packets() > 50 })
	framesBefore := st.Frames

	// Every flooding connection is closed: by the deadline, or to make
	// room earlier. The encoder and the reader, answered, stay.
	closed := waitClosed(t, idle, deadline+10*time.Second)
	if closed != flood {
		t.Errorf("%d of %d idle connections closed by the server", closed, flood)
	}
	r := srv.ConnsRefused()
	if got := r[connlimit.ReasonEvicted] + r[connlimit.ReasonFirstRequestTimeout] + r[connlimit.ReasonMax] + r[connlimit.ReasonMaxPerAddr]; got < flood {
		t.Errorf("refusals counted %v, %d in all, want at least %d", r, got, flood)
	}
	if r[connlimit.ReasonFirstRequestTimeout] == 0 {
		t.Errorf("no connection closed by the first-request deadline: %v", r)
	}
	if st := p.Status(); st.State != StateOnline || st.Frames <= framesBefore {
		t.Errorf("encoder after the flood: %s, frames %d (were %d)", st.State, st.Frames, framesBefore)
	}
	n := packets()
	testkit.WaitFor(t, ctx, "the reader still receives packets", func() bool { return packets() > n+25 })
	t.Logf("flood of %d dialled in %v; %d held (cap %d); encoder online %v after joining; refusals %v; fd limit %d",
		flood, dialled.Round(time.Millisecond), held, maxConns, online.Round(time.Millisecond), r, fdLimit)
	pub.kill()
}

// dialFlood opens n connections, spread over addrs loopback addresses
// (127.0.1.1 …), that send nothing.
func dialFlood(t *testing.T, addr net.Addr, n, addrs int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i%addrs))}}
				c, err := d.Dial("tcp", addr.String())
				if err != nil {
					select {
					case errs <- fmt.Errorf("connection %d: %w", i, err):
					default:
					}
					return
				}
				conns[i] = c
				if i%10 == 0 {
					// Answered, but it holds no session: still idle.
					_, _ = fmt.Fprintf(c, "OPTIONS rtsp://%s/ RTSP/1.0\r\nCSeq: 1\r\n\r\n", addr)
				}
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	return conns
}

// waitClosed counts the connections the server closed (EOF or reset)
// within wait, reading past whatever it answered first.
func waitClosed(t *testing.T, conns []net.Conn, wait time.Duration) int {
	t.Helper()
	by := time.Now().Add(wait)
	var mu sync.Mutex
	closed := 0
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < len(conns); i += 16 {
				_ = conns[i].SetReadDeadline(by)
				_, err := io.Copy(io.Discard, conns[i])
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					mu.Lock()
					closed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return closed
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

// limitFDs lowers this process's descriptor limit until the test ends.
func limitFDs(t *testing.T, n int) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if old.Cur < uint64(n) {
		t.Skipf("descriptor limit %d is below the %d this test needs", old.Cur, n)
	}
	lim := old
	lim.Cur = uint64(n)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// TestServerRequestDeadline: the deadline cuts a connection that sent
// OPTIONS and nothing more, but not an encoder publishing over UDP, whose
// control connection stays silent while the media flows beside it.
func TestServerRequestDeadline(t *testing.T) {
	checkLeaks(t)
	const deadline = time.Second
	srv := startServerWith(t, testkit.Logger(t), ServerConfig{Listen: "127.0.0.1:0", Limits: ServerLimits{FirstRequestTimeout: deadline}})
	p := runPush(t, srv, "cam", "push://enc:s3cret@")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub := publish(t, strings.Replace(srv.url, "rtsp://", "rtsp://enc:s3cret@", 1)+"/ingest/cam", publishSpec{transport: "udp"})
	st := waitOnline(ctx, t, p)

	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "OPTIONS %s/ RTSP/1.0\r\nCSeq: 1\r\n\r\n", srv.url)
	start := time.Now()
	if n := waitClosed(t, []net.Conn{c}, 10*deadline); n != 1 {
		t.Fatal("a connection that sent OPTIONS and then nothing was not closed")
	}
	t.Logf("OPTIONS-only connection closed after %v", time.Since(start).Round(10*time.Millisecond))
	time.Sleep(3 * deadline)
	if now := p.Status(); now.State != StateOnline || now.Frames <= st.Frames || now.Transport != "udp" {
		t.Errorf("encoder over UDP after 3 deadlines: %s, %s, frames %d (were %d)", now.State, now.Transport, now.Frames, st.Frames)
	}
	if got := srv.ConnsRefused()[connlimit.ReasonFirstRequestTimeout]; got != 1 {
		t.Errorf("closed by the deadline: %d, want 1 (the OPTIONS one)", got)
	}
	pub.kill()
}

// TestServerLimitsValidate names the key of a bad limit.
func TestServerLimitsValidate(t *testing.T) {
	cases := []struct {
		name   string
		limits ServerLimits
		err    string
	}{
		{"defaults", ServerLimits{}, ""},
		{"off", ServerLimits{MaxConns: -1, MaxConnsPerIP: -1, FirstRequestTimeout: -1}, ""},
		{"per address above total", ServerLimits{MaxConns: 10, MaxConnsPerIP: 20}, "max_conns_per_ip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ServerConfig{Limits: tc.limits}.Validate()
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("Validate: %v, want an error naming %q", err, tc.err)
			}
		})
	}
}

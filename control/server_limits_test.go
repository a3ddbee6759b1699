package control

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"diemcau/ingest/connlimit"
	"diemcau/internal/testkit"
)

// startLimited runs a control server with limits and, besides the API, a
// test route /test/slow that answers after ?ms= milliseconds, reading the
// body first, and fails (500) if its request's context ended first.
func startLimited(t *testing.T, l Limits) (*Server, string) {
	t.Helper()
	s, err := New(Config{Listen: "127.0.0.1:0", Limits: l}, slog.New(slog.DiscardHandler), Deps{})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("POST /test/slow", http.HandlerFunc(slowHandler))
	s.Handle("GET /test/slow", http.HandlerFunc(slowHandler))
	testkit.Start(t, "server", s.Run).WaitReady(s.Listening(), 5*time.Second)
	return s, s.Addr().String()
}

func slowHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	var ms int
	fmt.Sscan(r.URL.Query().Get("ms"), &ms)
	// A long answer, written in pieces (a recording download).
	for range 10 {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(time.Duration(ms) * time.Millisecond / 10):
		}
		if _, err := io.WriteString(w, "."); err != nil {
			return
		}
		http.NewResponseController(w).Flush()
	}
	if r.Context().Err() != nil {
		return
	}
	fmt.Fprintf(w, "ok %d", len(body))
}

func rawDial(t *testing.T, addr, from string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closed c within wait, reading
// and dropping whatever it sent first.
func closedWithin(c net.Conn, wait time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, c)
	return err == nil || !errors.Is(err, os.ErrDeadlineExceeded)
}

// TestHTTPTimeouts: a client that trickles headers or a body, or keeps an
// idle connection, is cut off; a long answer is not.
func TestHTTPTimeouts(t *testing.T) {
	const d = 400 * time.Millisecond
	_, addr := startLimited(t, Limits{ReadHeaderTimeout: d, ReadTimeout: d, IdleTimeout: d})
	cases := []struct {
		name  string
		send  string
		drain bool // read the answer before waiting
	}{
		{"headers never end", "GET /healthz HTTP/1.1\r\nHost: x\r\n", false},
		{"silent after connecting", "", false},
		{"body never ends", "POST /test/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789", false},
		{"idle keep-alive", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := rawDial(t, addr, "")
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if !closedWithin(c, 5*time.Second) {
				t.Fatal("connection still open after 5 s")
			}
			if took := time.Since(start); took < d/2 {
				t.Errorf("closed after %v, before the %v limit", took, d)
			}
		})
	}
	t.Run("long answers and slow handlers are not cut", func(t *testing.T) {
		client := &http.Client{Timeout: 10 * time.Second}
		for _, method := range []string{"GET", "POST"} {
			req, _ := http.NewRequest(method, "http://"+addr+"/test/slow?ms=1500", strings.NewReader("0123456789"))
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || !strings.HasSuffix(string(body), "ok 10") {
				t.Errorf("%s: %q, %v; want the whole answer after 1.5 s (limits %v)", method, body, err, d)
			}
		}
	})
}

// TestHTTPHeaderBytes: headers over http.max_header_bytes get 431.
func TestHTTPHeaderBytes(t *testing.T) {
	_, addr := startLimited(t, Limits{MaxHeaderBytes: 8 << 10})
	for _, tc := range []struct {
		size int
		want int
	}{{1 << 10, http.StatusOK}, {32 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
		req.Header.Set("X-Pad", strings.Repeat("a", tc.size))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%d bytes of header: %d, want %d", tc.size, res.StatusCode, tc.want)
		}
	}
}

// TestHTTPConnCaps: idle connections from one address cannot take the
// server; busy ones over an address's cap are refused; other addresses
// are served; each refusal is counted.
func TestHTTPConnCaps(t *testing.T) {
	s, addr := startLimited(t, Limits{MaxConns: 8, MaxConnsPerIP: 4})
	// 4 requests in progress from 127.0.0.2: the address's cap.
	var busy []net.Conn
	for range 4 {
		c := rawDial(t, addr, "127.0.0.2")
		if _, err := io.WriteString(c, "GET /test/slow?ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		busy = append(busy, c)
	}
	// Wait until the server reads them all (busy, not evictable).
	for _, c := range busy {
		br := bufio.NewReader(c)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "200") {
			t.Fatalf("busy request: %q %v", line, err)
		}
		_ = c.SetReadDeadline(time.Time{})
	}
	over := rawDial(t, addr, "127.0.0.2")
	if !closedWithin(over, 2*time.Second) {
		t.Error("a fifth connection from a full address was not refused")
	}
	// Idle connections from many addresses fill the rest; each new one
	// pushes out the oldest idle one, and a real request still gets in.
	for i := range 20 {
		rawDial(t, addr, fmt.Sprintf("127.0.0.%d", 10+i))
	}
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("a request after the idle flood: %v", err)
	}
	res.Body.Close()
	r := s.conns.Load().Refused()
	if r[connlimit.ReasonMaxPerAddr] != 1 {
		t.Errorf("refused per address: %d, want 1 (%v)", r[connlimit.ReasonMaxPerAddr], r)
	}
	if r[connlimit.ReasonEvicted] < 16 {
		t.Errorf("idle connections pushed out: %d, want at least 16 (%v)", r[connlimit.ReasonEvicted], r)
	}
	if n := s.conns.Load().Open(); n > 8 {
		t.Errorf("%d connections open, above the cap of 8", n)
	}
}

// TestConnRefusedMetric: every listener's refusals are in /metrics by
// listener and reason.
func TestConnRefusedMetric(t *testing.T) {
	s, addr := startLimited(t, Limits{MaxConnsPerIP: 1})
	s.AddConnCounter(ConnCounter{Listener: "rtsp", Refused: func() map[string]uint64 {
		return map[string]uint64{connlimit.ReasonMax: 3, connlimit.ReasonFirstRequestTimeout: 7}
	}, Open: func() int { return 5 }})
	busy := rawDial(t, addr, "127.0.0.2")
	if _, err := io.WriteString(busy, "GET /test/slow?ms=2000 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(busy).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(rawDial(t, addr, "127.0.0.2"), 2*time.Second) {
		t.Fatal("a second connection from a full address was not refused")
	}
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`diemcau_conn_refused_total{listener="http",reason="max_conns_per_ip"} 1`,
		`diemcau_conn_refused_total{listener="http",reason="evicted_idle"} 0`,
		`diemcau_conn_refused_total{listener="rtsp",reason="max_conns"} 3`,
		`diemcau_conn_refused_total{listener="rtsp",reason="first_request_timeout"} 7`,
		`diemcau_conns_open{listener="rtsp"} 5`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(body), `listener="http",reason="first_request_timeout"`) {
		t.Error("/metrics shows an HTTP reason the listener cannot see")
	}
}

// TestAcceptedFrom tells this server's connections from another
// listener's.
func TestAcceptedFrom(t *testing.T) {
	s, addr := startLimited(t, Limits{})
	c := rawDial(t, addr, "")
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if !s.AcceptedFrom(c.LocalAddr()) {
		t.Error("AcceptedFrom: false for a connection to this server")
	}
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c2 := rawDial(t, other.Addr().String(), "")
	if s.AcceptedFrom(c2.LocalAddr()) {
		t.Error("AcceptedFrom: true for a connection to another listener")
	}
}

func TestLimitsValidate(t *testing.T) {
	for _, tc := range []struct {
		l   Limits
		err string
	}{
		{Limits{}, ""},
		{Limits{MaxConns: -1, MaxConnsPerIP: -1, IdleTimeout: -1}, ""},
		{Limits{MaxConns: 10, MaxConnsPerIP: 11}, "max_conns_per_ip"},
		{Limits{MaxHeaderBytes: 100}, "max_header_bytes"},
	} {
		err := Config{Listen: ":0", Limits: tc.l}.Validate()
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%+v: %v, want an error naming %q", tc.l, err, tc.err)
		}
	}
}

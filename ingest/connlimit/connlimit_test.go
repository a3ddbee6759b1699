package connlimit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lineServer answers each "req" line with "ok" and marks the connection
// idle again (as the RTSP server does for a connection without a session);
// "hold" is answered too but marks it busy (a session set up); "busy"
// marks it busy without an answer (net/http's ConnState). It clears its
// read deadline before every read, as gortsplib does.
type lineServer struct {
	l  *Listener
	wg sync.WaitGroup
}

func startLineServer(t *testing.T, cfg Config) *lineServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lineServer{l: New(ln, cfg)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.l.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					_ = c.SetReadDeadline(time.Time{})
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch line {
					case "busy\n":
						s.l.SetBusy(c)
						continue
					case "hold\n":
						s.l.SetBusy(c)
					default:
						s.l.SetIdle(c)
					}
					if _, err := io.WriteString(c, "ok\n"); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		s.l.Close()
		s.closeAll()
		s.wg.Wait()
	})
	return s
}

// closeAll ends every admitted connection (the test's clients may still
// hold theirs).
func (s *lineServer) closeAll() {
	s.l.mu.Lock()
	var all []*Conn
	for _, c := range s.l.byPeer {
		all = append(all, c)
	}
	s.l.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
}

func dialFrom(t *testing.T, addr net.Addr, from string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ask sends a request and waits for the answer: the connection is then
// known to the server.
func ask(t *testing.T, c net.Conn) { askWith(t, c, "req") }

func askWith(t *testing.T, c net.Conn, req string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req+"\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ok\n" {
		t.Fatalf("answer: %q, %v", buf, err)
	}
	_ = c.SetDeadline(time.Time{})
}

// closedByServer reports whether the server closed c (EOF or reset)
// within wait.
func closedByServer(c net.Conn, wait time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func waitOpen(t *testing.T, l *Listener, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.Open() != n {
		if time.Now().After(deadline) {
			t.Fatalf("open connections: %d, want %d", l.Open(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCaps(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		// before: the connections opened first, by source address, and
		// whether each makes a request (busy) or stays silent (idle).
		before []conn
		next   string // source of the new connection
		// admitted: the new one works; evicted: the index in before that
		// was closed to make room (-1 none).
		admitted bool
		evicted  int
		reason   string
	}{
		{"under the caps", Config{Max: 3, MaxPerAddr: 3}, []conn{{"127.0.0.2", false}}, "127.0.0.2", true, -1, ""},
		{"full of idle: oldest idle goes", Config{Max: 2}, []conn{{"127.0.0.2", false}, {"127.0.0.3", false}}, "127.0.0.4", true, 0, ReasonEvicted},
		{"full: the idle one goes, not the busy", Config{Max: 2}, []conn{{"127.0.0.2", true}, {"127.0.0.3", false}}, "127.0.0.4", true, 1, ReasonEvicted},
		{"full of busy: refused", Config{Max: 2}, []conn{{"127.0.0.2", true}, {"127.0.0.3", true}}, "127.0.0.4", false, -1, ReasonMax},
		{"address full of idle: its oldest idle goes", Config{MaxPerAddr: 2}, []conn{{"127.0.0.2", false}, {"127.0.0.3", false}, {"127.0.0.2", false}}, "127.0.0.2", true, 0, ReasonEvicted},
		{"address full of busy: refused, others fine", Config{MaxPerAddr: 1}, []conn{{"127.0.0.2", true}, {"127.0.0.3", false}}, "127.0.0.2", false, -1, ReasonMaxPerAddr},
		{"another address is not capped by this one", Config{MaxPerAddr: 1}, []conn{{"127.0.0.2", true}}, "127.0.0.3", true, -1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startLineServer(t, tc.cfg)
			var before []net.Conn
			for _, b := range tc.before {
				c := dialFrom(t, s.l.Addr(), b.from)
				if b.busy {
					ask(t, c)
					if _, err := io.WriteString(c, "busy\n"); err != nil {
						t.Fatal(err)
					}
				}
				before = append(before, c)
				waitOpen(t, s.l, len(before))
			}
			time.Sleep(20 * time.Millisecond) // the busy marks land
			c := dialFrom(t, s.l.Addr(), tc.next)
			if tc.admitted {
				ask(t, c)
			} else if !closedByServer(c, 2*time.Second) {
				t.Fatal("the connection over the cap was not closed")
			}
			for i, b := range before {
				if got := closedByServer(b, 50*time.Millisecond); got != (i == tc.evicted) {
					t.Errorf("connection %d closed: %v, want %v", i, got, i == tc.evicted)
				}
			}
			refused := s.l.Refused()
			for _, r := range Reasons {
				want := uint64(0)
				if r == tc.reason {
					want = 1
				}
				if refused[r] != want {
					t.Errorf("refused[%s] = %d, want %d", r, refused[r], want)
				}
			}
		})
	}
}

type conn struct {
	from string
	busy bool
}

func TestFirstRequestTimeout(t *testing.T) {
	const d = 400 * time.Millisecond
	s := startLineServer(t, Config{FirstRequestTimeout: d})
	silent := dialFrom(t, s.l.Addr(), "")
	partial := dialFrom(t, s.l.Addr(), "")
	if _, err := io.WriteString(partial, "re"); err != nil { // a request that never ends
		t.Fatal(err)
	}
	answered := dialFrom(t, s.l.Addr(), "") // answered once, then silent, holding nothing
	ask(t, answered)
	chatty := dialFrom(t, s.l.Addr(), "") // a request every half deadline
	ask(t, chatty)
	held := dialFrom(t, s.l.Addr(), "") // a session set up: no deadline
	askWith(t, held, "hold")
	start := time.Now()
	stop := make(chan struct{})
	chatDone := make(chan struct{})
	go func() {
		defer close(chatDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(d / 2):
				if _, err := io.WriteString(chatty, "req\n"); err != nil {
					return
				}
				buf := make([]byte, 3)
				if _, err := io.ReadFull(chatty, buf); err != nil {
					return
				}
			}
		}
	}()
	for name, c := range map[string]net.Conn{"silent": silent, "partial": partial, "answered then silent": answered} {
		if !closedByServer(c, 5*time.Second) {
			t.Errorf("%s connection still open after 5 s", name)
		}
	}
	if took := time.Since(start); took < d/2 {
		t.Errorf("closed after %v, before the deadline of %v", took, d)
	}
	time.Sleep(2 * d)
	close(stop)
	<-chatDone
	ask(t, chatty)
	askWith(t, held, "hold")
	if got := s.l.Refused()[ReasonFirstRequestTimeout]; got != 3 {
		t.Errorf("refused[first_request_timeout] = %d, want 3", got)
	}
}

func TestAccepted(t *testing.T) {
	s := startLineServer(t, Config{})
	c := dialFrom(t, s.l.Addr(), "")
	ask(t, c)
	if !s.l.Accepted(c.LocalAddr()) {
		t.Error("Accepted: false for a connection to this listener")
	}
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c2 := dialFrom(t, other.Addr(), "")
	if s.l.Accepted(c2.LocalAddr()) {
		t.Error("Accepted: true for a connection to another listener")
	}
}

func TestAddrKey(t *testing.T) {
	cases := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 5}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa::1"), Port: 5}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:bbbb::9"), Port: 6}, "2001:db8:1:2::/64"},
	}
	for _, tc := range cases {
		if got := AddrKey(tc.addr); got != tc.want {
			t.Errorf("AddrKey(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

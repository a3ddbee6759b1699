package lossyudp

import (
	"net"
	"testing"
	"time"
)

// Datagrams cross the relay both ways, in order, held for the delay; at
// a loss share of 0.5 about half are lost.
func TestRelay(t *testing.T) {
	cases := []struct {
		name  string
		loss  float64
		delay time.Duration
	}{
		{"no loss, no delay", 0, 0},
		{"no loss, 20 ms each way", 0, 20 * time.Millisecond},
		{"half lost", 0.5, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			server, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()
			go func() { // echo
				buf := make([]byte, 2048)
				for {
					n, from, err := server.ReadFromUDP(buf)
					if err != nil {
						return
					}
					_, _ = server.WriteToUDP(buf[:n], from)
				}
			}()
			r, err := StartDelayed(server.LocalAddr().String(), tc.loss, tc.delay)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			caller, err := net.Dial("udp", r.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer caller.Close()
			const n = 200
			start := time.Now()
			for i := range n {
				_, _ = caller.Write([]byte{byte(i)})
			}
			_ = caller.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 16)
			got, last := 0, -1
			for {
				m, err := caller.Read(buf)
				if err != nil {
					break
				}
				if m != 1 || int(buf[0]) <= last {
					t.Fatalf("datagram %d after %d: reordered", buf[0], last)
				}
				last = int(buf[0])
				got++
				if got == 1 && time.Since(start) < 2*tc.delay {
					t.Errorf("first echo after %s, want at least %s", time.Since(start), 2*tc.delay)
				}
				if tc.loss == 0 && got == n {
					break
				}
			}
			switch {
			case tc.loss == 0 && got != n:
				t.Errorf("%d of %d came back", got, n)
			case tc.loss > 0 && (got < n/8 || got > n/2):
				t.Errorf("%d of %d came back through 50 %% loss each way (about a quarter expected)", got, n)
			}
			if r.Dropped()+r.Passed() == 0 {
				t.Error("nothing counted")
			}
		})
	}
}

// TestRelayRate: with a rate set, what reaches the caller over a second is
// the rate, whatever the server sends; the rest is lost to the limit; with
// the limit lifted, everything passes again.
func TestRelayRate(t *testing.T) {
	server, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	r, err := Start(server.LocalAddr().String(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	caller, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	relay, _ := net.ResolveUDPAddr("udp", r.Addr())
	if _, err := caller.WriteToUDP([]byte("hello"), relay); err != nil { // the relay learns the caller
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	_ = server.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, from, err := server.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	// received counts the caller's bytes within d of sending 2 Mbit/s at
	// it for d.
	received := func(d time.Duration) float64 {
		got := make(chan int)
		go func() {
			n := 0
			_ = caller.SetReadDeadline(time.Now().Add(d + 150*time.Millisecond))
			for {
				m, _, err := caller.ReadFromUDP(buf)
				if err != nil {
					got <- n
					return
				}
				n += m
			}
		}()
		pkt := make([]byte, 1000)
		end := time.Now().Add(d)
		for tick := time.NewTicker(4 * time.Millisecond); time.Now().Before(end); <-tick.C {
			_, _ = server.WriteToUDP(pkt, from) // 1000 B / 4 ms: 2 Mbit/s
		}
		return float64(<-got) * 8 / d.Seconds()
	}
	r.SetRate(500_000)
	if bps := received(time.Second); bps < 400_000 || bps > 650_000 {
		t.Errorf("limited to 500 kbit/s: %.0f kbit/s reached the caller", bps/1000)
	}
	if r.Limited() == 0 {
		t.Error("nothing counted lost to the limit")
	}
	r.SetRate(0)
	if bps := received(time.Second); bps < 1_500_000 {
		t.Errorf("limit lifted: %.0f kbit/s reached the caller, want about 2000", bps/1000)
	}
}

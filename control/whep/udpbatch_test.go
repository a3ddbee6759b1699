package whep

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestBatchConnSendsHeldWritesInOrder(t *testing.T) {
	cases := []struct {
		network, addr string
	}{
		{"udp4", "127.0.0.1:0"},
		{"udp6", "[::1]:0"},
	}
	for _, tc := range cases {
		t.Run(tc.network, func(t *testing.T) {
			a, err := net.ListenUDP(tc.network, mustResolve(t, tc.network, tc.addr))
			if err != nil {
				t.Skipf("no %s loopback: %v", tc.network, err)
			}
			rx, err := net.ListenUDP(tc.network, mustResolve(t, tc.network, tc.addr))
			if err != nil {
				t.Fatal(err)
			}
			defer rx.Close()
			g := newBatchGroup(1)
			c := newBatchConn(a, g, false)
			defer c.Close()
			to := rx.LocalAddr().(*net.UDPAddr).AddrPort()

			const n = 150
			g.Hold(0)
			for i := range n {
				if _, err := c.WriteToAddrPort([]byte(fmt.Sprintf("packet %03d", i)), to); err != nil {
					t.Fatal(err)
				}
			}
			if got := g.packets.Load(); got != 2*batchSize {
				t.Errorf("%d datagrams left during the hold, want %d (two full batches)", got, 2*batchSize)
			}
			g.Release(0)
			if s := g.syscalls.Load(); s != 3 {
				t.Errorf("%d sendmmsg calls for %d datagrams, want 3", s, n)
			}
			// Outside a hold a write leaves at once.
			if _, err := c.WriteTo([]byte("direct"), rx.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 1500)
			for i := range n + 1 {
				m, _, err := rx.ReadFromUDP(buf)
				if err != nil {
					t.Fatalf("datagram %d: %v", i, err)
				}
				want := fmt.Sprintf("packet %03d", i)
				if i == n {
					want = "direct"
				}
				if string(buf[:m]) != want {
					t.Fatalf("datagram %d is %q, want %q", i, buf[:m], want)
				}
			}
			if g.direct.Load() != 1 {
				t.Errorf("%d direct writes, want 1", g.direct.Load())
			}
		})
	}
}

func mustResolve(t *testing.T, network, addr string) *net.UDPAddr {
	a, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBatchConnCoalescesTrainsWithGSO(t *testing.T) {
	a, err := net.ListenUDP("udp4", mustResolve(t, "udp4", "127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	if !gsoSupported(a) {
		a.Close()
		t.Skip("kernel without UDP GSO")
	}
	var rx [2]*net.UDPConn
	for i := range rx {
		if rx[i], err = net.ListenUDP("udp4", mustResolve(t, "udp4", "127.0.0.1:0")); err != nil {
			t.Fatal(err)
		}
		defer rx[i].Close()
	}
	g := newBatchGroup(1)
	c := newBatchConn(a, g, true)
	defer c.Close()
	// Viewer 0 gets a frame of three full packets and a short one, viewer
	// 1 a single packet, then viewer 0 again: three sends in all.
	type dgram struct {
		to   int
		size int
	}
	plan := []dgram{{0, 1200}, {0, 1200}, {0, 1200}, {0, 300}, {1, 1200}, {0, 80}}
	g.Hold(0)
	for i, d := range plan {
		b := make([]byte, d.size)
		for j := range b {
			b[j] = byte(i)
		}
		if _, err := c.WriteToAddrPort(b, rx[d.to].LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
			t.Fatal(err)
		}
	}
	out := c.coalesce(&c.lanes[0], 0)
	if len(out) != 3 || len(out[0].Buffers) != 4 {
		t.Fatalf("coalesced into %d sends (first of %d datagrams), want 3 with the first of 4", len(out), len(out[0].Buffers))
	}
	g.Release(0)
	if g.packets.Load() != uint64(len(plan)) || g.syscalls.Load() != 1 {
		t.Errorf("%d datagrams in %d syscalls, want %d in 1", g.packets.Load(), g.syscalls.Load(), len(plan))
	}
	buf := make([]byte, 2000)
	for i, d := range plan {
		r := rx[d.to]
		_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := r.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if n != d.size || buf[0] != byte(i) || buf[n-1] != byte(i) {
			t.Fatalf("datagram %d: %d bytes starting %d, want %d bytes of %d", i, n, buf[0], d.size, i)
		}
	}
}

// TestBatchLanesSendSideBySide: two senders, each holding its own lane,
// batch their viewers' datagrams apart (a routed address goes to its lane,
// an unknown one to a lane by hash) and every datagram arrives in order.
func TestBatchLanesSendSideBySide(t *testing.T) {
	a, err := net.ListenUDP("udp4", mustResolve(t, "udp4", "127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	g := newBatchGroup(2)
	c := newBatchConn(a, g, false)
	defer c.Close()
	var rx [2]*net.UDPConn
	var to [2]netip.AddrPort
	for i := range rx {
		if rx[i], err = net.ListenUDP("udp4", mustResolve(t, "udp4", "127.0.0.1:0")); err != nil {
			t.Fatal(err)
		}
		defer rx[i].Close()
		to[i] = rx[i].LocalAddr().(*net.UDPAddr).AddrPort()
		// IPv4-mapped, as a resolved net.UDPAddr may give it.
		g.route(netip.AddrPortFrom(netip.AddrFrom16(to[i].Addr().As16()), to[i].Port()), i)
	}
	for i := range to {
		if got := g.laneOf(to[i]); got != i {
			t.Fatalf("address %d routed to lane %d, want %d", i, got, i)
		}
	}
	other := netip.MustParseAddrPort("127.0.0.1:9")
	if l := g.laneOf(other); l != g.laneOf(other) || l < 0 || l > 1 {
		t.Fatalf("an unrouted address hashes to lane %d", l)
	}

	const n = 200
	var wg sync.WaitGroup
	for lane := range 2 {
		wg.Go(func() {
			g.Hold(lane)
			defer g.Release(lane)
			for i := range n {
				if _, err := c.WriteToAddrPort([]byte(fmt.Sprintf("%d:%03d", lane, i)), to[lane]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if d := g.direct.Load(); d != 0 {
		t.Errorf("%d datagrams bypassed the held lanes", d)
	}
	buf := make([]byte, 100)
	for lane := range 2 {
		_ = rx[lane].SetReadDeadline(time.Now().Add(5 * time.Second))
		for i := range n {
			m, _, err := rx[lane].ReadFromUDP(buf)
			if err != nil {
				t.Fatalf("lane %d datagram %d: %v", lane, i, err)
			}
			if want := fmt.Sprintf("%d:%03d", lane, i); string(buf[:m]) != want {
				t.Fatalf("lane %d: got %q, want %q", lane, buf[:m], want)
			}
		}
	}
	g.unroute(to[0], 1) // not its lane: kept
	if g.laneOf(to[0]) != 0 {
		t.Error("unroute with the wrong lane dropped the route")
	}
	g.unroute(to[0], 0)
	if m := g.routes.Load(); len(*m) != 1 {
		t.Errorf("%d routes after one was dropped, want 1", len(*m))
	}
}

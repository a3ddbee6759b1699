package whep

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

const (
	batchSize    = 64   // datagrams per sendmmsg
	batchSlotCap = 1500 // bytes; SRTP packets here stay under 1300
	socketBuffer = 4 << 20
	maxGSOSegs   = 32 // datagrams coalesced into one GSO send
)

// batchWriter is what ipv4.PacketConn and ipv6.PacketConn share.
type batchWriter interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchConn is one ICE UDP socket as pion's UDP mux sees it. While a
// stream's sender holds its lane (one round of packets written to its
// viewers), writes are copied into that lane's batch and leave with one
// sendmmsg per 64 datagrams instead of one sendto each: per-packet
// syscalls were 44% of MediaMTX's CPU on the same job. Where the kernel has
// UDP GSO, a viewer's packets of one frame (back to back in the batch) also
// go down the network stack as one segmented send. Outside a hold (STUN,
// DTLS, RTCP) a write goes out at once.
//
// A socket has one lane per sender of a stream, each with its own lock and
// batch: the senders of one stream, each on a core of its own, fill and
// flush their batches side by side instead of queueing on one lock (and on
// one sendmmsg at a time) as they did when a socket had a single batch.
type batchConn struct {
	conn  *net.UDPConn
	batch batchWriter
	group *batchGroup
	gso   atomic.Bool
	lanes []lane
}

// lane is one sender's batch on one socket.
type lane struct {
	mu    sync.Mutex
	msgs  []ipv4.Message
	addrs []net.UDPAddr
	n     int
	out   []ipv4.Message // msgs as sent, GSO trains coalesced
	spans []int          // first index in msgs of each out message
}

// batchGroup holds every socket of the server at once: a sender does not
// know which socket its viewers' packets leave by. The socket learns which
// lane a datagram belongs to from its address: a viewer's address is routed
// to its sender's lane once it has connected (route); any other address
// (a viewer not yet connected, or one whose path changed) hashes to a lane,
// which is correct too, only shared.
type batchGroup struct {
	holds []atomic.Int32 // per lane
	conns []*batchConn

	routeMu sync.Mutex
	routes  atomic.Pointer[map[netip.AddrPort]int] // copied on write

	packets   atomic.Uint64 // datagrams sent through a batch
	syscalls  atomic.Uint64 // sendmmsg calls
	direct    atomic.Uint64 // datagrams written one by one
	sendError atomic.Uint64 // datagrams the kernel refused
}

func newBatchGroup(lanes int) *batchGroup {
	return &batchGroup{holds: make([]atomic.Int32, max(lanes, 1))}
}

func newBatchConn(conn *net.UDPConn, g *batchGroup, gso bool) *batchConn {
	_ = conn.SetWriteBuffer(socketBuffer)
	_ = conn.SetReadBuffer(socketBuffer)
	c := &batchConn{conn: conn, group: g, lanes: make([]lane, len(g.holds))}
	c.gso.Store(gso && gsoSupported(conn))
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		c.batch = ipv6.NewPacketConn(conn)
	} else {
		c.batch = ipv4.NewPacketConn(conn)
	}
	g.conns = append(g.conns, c)
	return c
}

// init allocates a lane's batch on its first use: a server with many cores
// and few viewers uses few lanes.
func (l *lane) init() {
	l.msgs, l.addrs = make([]ipv4.Message, batchSize), make([]net.UDPAddr, batchSize)
	l.out, l.spans = make([]ipv4.Message, batchSize), make([]int, 0, batchSize)
	for i := range l.out {
		l.out[i].Buffers = make([][]byte, 0, maxGSOSegs)
		l.out[i].OOB = make([]byte, 0, gsoCmsgSpace)
	}
	for i := range l.msgs {
		l.msgs[i].Buffers = [][]byte{make([]byte, 0, batchSlotCap)}
		l.addrs[i].IP = make(net.IP, 0, net.IPv6len)
	}
}

// Hold starts batching lane i on every socket of the group.
func (g *batchGroup) Hold(i int) { g.holds[i].Add(1) }

// Release ends a Hold of lane i and sends what it batched.
func (g *batchGroup) Release(i int) {
	g.holds[i].Add(-1)
	for _, c := range g.conns {
		l := &c.lanes[i]
		l.mu.Lock()
		c.flushLocked(l)
		l.mu.Unlock()
	}
}

// route sends datagrams to addr through lane i from now on.
func (g *batchGroup) route(addr netip.AddrPort, i int) {
	g.editRoutes(func(m map[netip.AddrPort]int) { m[canonical(addr)] = i })
}

// unroute forgets addr's lane if it is still i.
func (g *batchGroup) unroute(addr netip.AddrPort, i int) {
	g.editRoutes(func(m map[netip.AddrPort]int) {
		if j, ok := m[canonical(addr)]; ok && j == i {
			delete(m, canonical(addr))
		}
	})
}

func (g *batchGroup) editRoutes(edit func(map[netip.AddrPort]int)) {
	if len(g.holds) < 2 {
		return
	}
	g.routeMu.Lock()
	defer g.routeMu.Unlock()
	m := map[netip.AddrPort]int{}
	if old := g.routes.Load(); old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	edit(m)
	g.routes.Store(&m)
}

func canonical(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// laneOf is the lane a datagram to addr is batched in.
func (g *batchGroup) laneOf(addr netip.AddrPort) int {
	n := len(g.holds)
	if n == 1 {
		return 0
	}
	addr = canonical(addr)
	if m := g.routes.Load(); m != nil {
		if i, ok := (*m)[addr]; ok {
			return i
		}
	}
	ip := addr.Addr().As16()
	h := uint32(2166136261) // FNV-1a
	for _, b := range ip {
		h = (h ^ uint32(b)) * 16777619
	}
	h = (h ^ uint32(addr.Port())) * 16777619
	return int(h % uint32(n))
}

// WriteToAddrPort is the path pion's UDP mux takes (AddrPortReaderWriter).
func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	i := c.group.laneOf(addr)
	if c.group.holds[i].Load() == 0 || len(b) > batchSlotCap {
		return c.writeNow(i, b, addr)
	}
	l := &c.lanes[i]
	l.mu.Lock()
	if l.msgs == nil {
		l.init()
	}
	if l.n == len(l.msgs) {
		c.flushLocked(l)
	}
	m := &l.msgs[l.n]
	m.Buffers[0] = append(m.Buffers[0][:0], b...)
	a := &l.addrs[l.n]
	ip := addr.Addr().Unmap()
	if ip.Is4() {
		v := ip.As4()
		a.IP = append(a.IP[:0], v[:]...)
	} else {
		v := ip.As16()
		a.IP = append(a.IP[:0], v[:]...)
	}
	a.Port = int(addr.Port())
	m.Addr = a
	l.n++
	// A Release may have run between the check above and the lock: then
	// nobody else will flush this datagram.
	if c.group.holds[i].Load() == 0 {
		c.flushLocked(l)
	}
	l.mu.Unlock()
	return len(b), nil
}

func (c *batchConn) writeNow(i int, b []byte, addr netip.AddrPort) (int, error) {
	l := &c.lanes[i]
	l.mu.Lock()
	c.flushLocked(l) // keep order with what a hold left behind
	l.mu.Unlock()
	c.group.direct.Add(1)
	n, err := c.conn.WriteToUDPAddrPort(b, addr)
	if err != nil {
		c.group.sendError.Add(1)
	}
	return n, err
}

func (c *batchConn) flushLocked(l *lane) {
	if l.n == 0 {
		return
	}
	out := c.coalesce(l, 0)
	for len(out) > 0 {
		sent, err := c.batch.WriteBatch(out, 0)
		c.group.syscalls.Add(1)
		for _, m := range out[:max(sent, 0)] {
			c.group.packets.Add(uint64(len(m.Buffers)))
		}
		out = out[max(sent, 0):]
		if err == nil {
			continue
		}
		first := l.spans[len(l.spans)-len(out)]
		if len(out[0].Buffers) > 1 && c.gso.Load() {
			// The device cannot segment (no checksum offload): send
			// the rest one datagram at a time from now on.
			c.gso.Store(false)
			out = c.coalesce(l, first)
			continue
		}
		// The first unsent datagram was refused (no route, address
		// family): drop it and send the rest. Loss is counted.
		c.group.sendError.Add(1)
		out = out[1:]
	}
	l.n = 0
}

// coalesce lays a lane's msgs[from:n] out for sending: runs to one address
// where every datagram but the last has the same size become one GSO
// message whose iovecs are the datagrams themselves (no copy).
func (c *batchConn) coalesce(l *lane, from int) []ipv4.Message {
	out := l.out[:0]
	l.spans = l.spans[:0]
	gso := c.gso.Load()
	for i := from; i < l.n; {
		size := len(l.msgs[i].Buffers[0])
		j := i + 1
		if gso {
			for j < l.n && j-i < maxGSOSegs && len(l.msgs[j-1].Buffers[0]) == size &&
				len(l.msgs[j].Buffers[0]) <= size && sameUDPAddr(&l.addrs[i], &l.addrs[j]) {
				j++
			}
		}
		m := &l.out[len(out)]
		m.Addr = l.msgs[i].Addr
		m.Buffers = m.Buffers[:0]
		for k := i; k < j; k++ {
			m.Buffers = append(m.Buffers, l.msgs[k].Buffers[0])
		}
		m.OOB = m.OOB[:0]
		if j-i > 1 {
			m.OOB = appendGSOCmsg(m.OOB, size)
		}
		out = append(out, *m)
		l.spans = append(l.spans, i)
		i = j
	}
	return out
}

func sameUDPAddr(a, b *net.UDPAddr) bool {
	return a.Port == b.Port && a.IP.Equal(b.IP)
}

// WriteTo is the net.PacketConn path, taken by callers that hold a net.Addr.
func (c *batchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return c.conn.WriteTo(b, addr)
	}
	return c.WriteToAddrPort(b, ua.AddrPort())
}

func (c *batchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.conn.ReadFromUDPAddrPort(b)
}

func (c *batchConn) ReadFrom(b []byte) (int, net.Addr, error) { return c.conn.ReadFrom(b) }
func (c *batchConn) LocalAddr() net.Addr                      { return c.conn.LocalAddr() }
func (c *batchConn) SetDeadline(t time.Time) error            { return c.conn.SetDeadline(t) }
func (c *batchConn) SetReadDeadline(t time.Time) error        { return c.conn.SetReadDeadline(t) }
func (c *batchConn) SetWriteDeadline(t time.Time) error       { return c.conn.SetWriteDeadline(t) }
func (c *batchConn) Close() error                             { return c.conn.Close() }

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
// broadcaster holds it (one frame fanned out to every viewer), writes are
// copied into a batch and leave with one sendmmsg per 64 datagrams instead
// of one sendto each: per-packet syscalls were 44% of MediaMTX's CPU on the
// same job. Where the kernel has UDP GSO, a viewer's packets of one frame
// (back to back in the batch) also go down the network stack as one
// segmented send. Outside a hold (STUN, DTLS, RTCP) a write goes out at once.
type batchConn struct {
	conn  *net.UDPConn
	batch batchWriter
	group *batchGroup

	mu    sync.Mutex
	msgs  []ipv4.Message
	addrs []net.UDPAddr
	n     int
	gso   bool
	out   []ipv4.Message // msgs as sent, GSO trains coalesced
	spans []int          // first index in msgs of each out message
}

// batchGroup holds every socket of the server at once: a broadcaster does
// not know which socket its viewers' packets leave by.
type batchGroup struct {
	holds atomic.Int32
	conns []*batchConn

	packets   atomic.Uint64 // datagrams sent through a batch
	syscalls  atomic.Uint64 // sendmmsg calls
	direct    atomic.Uint64 // datagrams written one by one
	sendError atomic.Uint64 // datagrams the kernel refused
}

func newBatchConn(conn *net.UDPConn, g *batchGroup, gso bool) *batchConn {
	_ = conn.SetWriteBuffer(socketBuffer)
	_ = conn.SetReadBuffer(socketBuffer)
	c := &batchConn{conn: conn, group: g, msgs: make([]ipv4.Message, batchSize), addrs: make([]net.UDPAddr, batchSize),
		gso: gso && gsoSupported(conn), out: make([]ipv4.Message, batchSize), spans: make([]int, 0, batchSize)}
	for i := range c.out {
		c.out[i].Buffers = make([][]byte, 0, maxGSOSegs)
		c.out[i].OOB = make([]byte, 0, gsoCmsgSpace)
	}
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		c.batch = ipv6.NewPacketConn(conn)
	} else {
		c.batch = ipv4.NewPacketConn(conn)
	}
	for i := range c.msgs {
		c.msgs[i].Buffers = [][]byte{make([]byte, 0, batchSlotCap)}
		c.addrs[i].IP = make(net.IP, 0, net.IPv6len)
	}
	g.conns = append(g.conns, c)
	return c
}

// Hold starts batching on every socket of the group.
func (g *batchGroup) Hold() { g.holds.Add(1) }

// Release ends a Hold and sends what was batched.
func (g *batchGroup) Release() {
	g.holds.Add(-1)
	for _, c := range g.conns {
		c.mu.Lock()
		c.flushLocked()
		c.mu.Unlock()
	}
}

// WriteToAddrPort is the path pion's UDP mux takes (AddrPortReaderWriter).
func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if c.group.holds.Load() == 0 || len(b) > batchSlotCap {
		return c.writeNow(b, addr)
	}
	c.mu.Lock()
	if c.n == len(c.msgs) {
		c.flushLocked()
	}
	m := &c.msgs[c.n]
	m.Buffers[0] = append(m.Buffers[0][:0], b...)
	a := &c.addrs[c.n]
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
	c.n++
	// A Release may have run between the check above and the lock: then
	// nobody else will flush this datagram.
	if c.group.holds.Load() == 0 {
		c.flushLocked()
	}
	c.mu.Unlock()
	return len(b), nil
}

func (c *batchConn) writeNow(b []byte, addr netip.AddrPort) (int, error) {
	c.mu.Lock()
	c.flushLocked() // keep order with what a hold left behind
	c.mu.Unlock()
	c.group.direct.Add(1)
	n, err := c.conn.WriteToUDPAddrPort(b, addr)
	if err != nil {
		c.group.sendError.Add(1)
	}
	return n, err
}

func (c *batchConn) flushLocked() {
	if c.n == 0 {
		return
	}
	out := c.coalesce(0)
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
		first := c.spans[len(c.spans)-len(out)]
		if len(out[0].Buffers) > 1 && c.gso {
			// The device cannot segment (no checksum offload): send
			// the rest one datagram at a time from now on.
			c.gso = false
			out = c.coalesce(first)
			continue
		}
		// The first unsent datagram was refused (no route, address
		// family): drop it and send the rest. Loss is counted.
		c.group.sendError.Add(1)
		out = out[1:]
	}
	c.n = 0
}

// coalesce lays msgs[from:n] out for sending: runs to one address where
// every datagram but the last has the same size become one GSO message
// whose iovecs are the datagrams themselves (no copy).
func (c *batchConn) coalesce(from int) []ipv4.Message {
	out := c.out[:0]
	c.spans = c.spans[:0]
	for i := from; i < c.n; {
		size := len(c.msgs[i].Buffers[0])
		j := i + 1
		if c.gso {
			for j < c.n && j-i < maxGSOSegs && len(c.msgs[j-1].Buffers[0]) == size &&
				len(c.msgs[j].Buffers[0]) <= size && sameUDPAddr(&c.addrs[i], &c.addrs[j]) {
				j++
			}
		}
		m := &c.out[len(out)]
		m.Addr = c.msgs[i].Addr
		m.Buffers = m.Buffers[:0]
		for k := i; k < j; k++ {
			m.Buffers = append(m.Buffers, c.msgs[k].Buffers[0])
		}
		m.OOB = m.OOB[:0]
		if j-i > 1 {
			m.OOB = appendGSOCmsg(m.OOB, size)
		}
		out = append(out, *m)
		c.spans = append(c.spans, i)
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

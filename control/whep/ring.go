package whep

import (
	"sync/atomic"

	"diemcau/pipeline/h26x"
)

// packet is one RTP packet of a stream, packetised once and sent to every
// viewer; only the SSRC and payload type differ per viewer. A packet is
// never changed once published: the stream's senders read it while the
// writer goes on (a reused slot would race with a sender that lags).
type packet struct {
	seq      uint16
	ts       uint32
	marker   bool
	keyStart bool // first packet of a keyframe: a decoder can start here
	payload  []byte
}

// Allocation blocks: a frame's packets are carved from them, so a 2 Mbps
// stream allocates a few times a second, not once per packet.
const (
	payloadChunk = 64 << 10
	packetBlock  = 64
)

// ring keeps a stream's last packets by sequence number. It is both the
// retransmission buffer every viewer's NACKs are answered from (one per
// stream, not a copy per viewer) and the cache a new viewer starts from:
// the packets since the last keyframe. One goroutine writes (add, publish);
// any number read (published, get, gop) without a lock.
type ring struct {
	slots []atomic.Pointer[packet]
	mask  int

	// Writer only.
	next    uint16    // sequence number of the next packet added
	pending []*packet // added, not yet published
	chunk   []byte    // payload bytes not yet handed out
	block   []packet  // packets not yet handed out
	keyAt   uint32    // keyMark|seq of a keyframe start among pending
	// The picture being packetised: its NAL units and their layout.
	units    [][]byte
	payloads []h26x.Payload

	pub atomic.Uint32 // sequence number after the last published packet
	// newest is the RTP time of the last published packet, keyMark<<16
	// set once there is one (the time itself in the low 32 bits).
	newest atomic.Uint64
	// key is keyMark|seq of the first packet of the last keyframe, 0 when
	// there is none (or the codec changed since).
	key atomic.Uint32
}

const keyMark = 1 << 16

func newRing(size int, firstSeq uint16) *ring {
	r := &ring{slots: make([]atomic.Pointer[packet], size), mask: size - 1, next: firstSeq}
	r.pub.Store(uint32(firstSeq))
	return r
}

// add appends a packet of head then body; it is published with the rest
// of its frame.
func (r *ring) add(ts uint32, keyStart bool, head, body []byte) *packet {
	p := r.alloc(ts, keyStart, len(head)+len(body))
	copy(p.payload[copy(p.payload, head):], body)
	return p
}

// alloc appends a packet with an n-byte payload for the caller to fill
// before it publishes.
func (r *ring) alloc(ts uint32, keyStart bool, n int) *packet {
	if len(r.chunk) < n {
		r.chunk = make([]byte, max(payloadChunk, n))
	}
	payload := r.chunk[:n:n]
	r.chunk = r.chunk[n:]
	if len(r.block) == 0 {
		r.block = make([]packet, packetBlock)
	}
	p := &r.block[0]
	r.block = r.block[1:]
	*p = packet{seq: r.next, ts: ts, keyStart: keyStart, payload: payload}
	if keyStart {
		r.keyAt = keyMark | uint32(r.next)
	}
	r.pending = append(r.pending, p)
	r.next++
	return p
}

// publish makes the pending packets visible to readers, the last one
// marked when markLast (the end of a video frame), and returns how many.
func (r *ring) publish(markLast bool) int {
	n := len(r.pending)
	if n == 0 {
		return 0
	}
	if markLast {
		r.pending[n-1].marker = true
	}
	ts := r.pending[n-1].ts
	for i, p := range r.pending {
		r.slots[int(p.seq)&r.mask].Store(p)
		r.pending[i] = nil
	}
	if r.keyAt != 0 {
		r.key.Store(r.keyAt)
		r.keyAt = 0
	}
	r.newest.Store(uint64(keyMark)<<32 | uint64(ts))
	r.pending = r.pending[:0]
	r.pub.Store(uint32(r.next))
	return n
}

// newestTS is the RTP time of the newest published packet.
func (r *ring) newestTS() (uint32, bool) {
	v := r.newest.Load()
	return uint32(v), v != 0
}

// published is the sequence number after the newest readable packet.
func (r *ring) published() uint16 { return uint16(r.pub.Load()) }

// get returns the published packet with that sequence number if the ring
// still has it.
func (r *ring) get(seq uint16) *packet {
	if d := r.published() - seq; d == 0 || int(d) > len(r.slots) {
		return nil
	}
	p := r.slots[int(seq)&r.mask].Load()
	if p == nil || p.seq != seq {
		return nil // overwritten since
	}
	return p
}

// gop returns the first sequence number since the last keyframe, or false
// when the ring no longer holds it.
func (r *ring) gop() (from uint16, ok bool) {
	k := r.key.Load()
	if k == 0 {
		return 0, false
	}
	from = uint16(k)
	if r.get(from) == nil {
		return 0, false
	}
	return from, true
}

// forgetKey drops the keyframe start, after the codec parameters changed.
// Writer only.
func (r *ring) forgetKey() {
	r.key.Store(0)
	r.keyAt = 0
}

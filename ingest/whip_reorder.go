package ingest

import (
	"time"

	"github.com/pion/rtp"
)

// reorderedPacket is a packet and when it arrived.
type reorderedPacket struct {
	pkt     *rtp.Packet
	arrival time.Time
}

// reorderBuffer is the jitter buffer of one WHIP track: it hands packets
// on in sequence order, waiting up to window for a missing one (its
// retransmission, after the NACK the peer connection sends) before giving
// it up. The depacketizers build pictures from consecutive packets only.
type reorderBuffer struct {
	window  time.Duration
	started bool
	next    uint16 // the sequence number to hand on next
	held    map[uint16]reorderedPacket
	oldest  time.Time // arrival of the oldest held packet
}

// maxHeld bounds the buffer: past it the gap is given up at once (a burst
// far beyond the window, or a publisher that jumped its sequence numbers).
const maxHeld = 1024

func newReorderBuffer(window time.Duration) reorderBuffer {
	return reorderBuffer{window: window, held: map[uint16]reorderedPacket{}}
}

// push adds a packet and returns those now in order, with how many were
// given up on before the first of them.
func (b *reorderBuffer) push(pkt *rtp.Packet, arrival time.Time) ([]reorderedPacket, int) {
	if !b.started {
		b.started, b.next = true, pkt.SequenceNumber
	}
	if d := int16(pkt.SequenceNumber - b.next); d < 0 {
		return nil, 0 // late or duplicate: its place has been handed on
	}
	if _, dup := b.held[pkt.SequenceNumber]; dup {
		return nil, 0
	}
	if pkt.SequenceNumber == b.next && len(b.held) == 0 {
		b.next++
		return []reorderedPacket{{pkt, arrival}}, 0
	}
	if len(b.held) == 0 || arrival.Before(b.oldest) {
		b.oldest = arrival
	}
	b.held[pkt.SequenceNumber] = reorderedPacket{pkt, arrival}
	out := b.drain(nil)
	if len(b.held) > maxHeld {
		return b.skip(out)
	}
	if len(out) == 0 {
		return b.flush(arrival)
	}
	return out, 0
}

// flush gives up on the missing packet when the oldest held one has waited
// the window out.
func (b *reorderBuffer) flush(now time.Time) ([]reorderedPacket, int) {
	if len(b.held) == 0 || now.Sub(b.oldest) < b.window {
		return nil, 0
	}
	return b.skip(nil)
}

// skip moves next to the lowest held packet and hands on what follows.
func (b *reorderBuffer) skip(out []reorderedPacket) ([]reorderedPacket, int) {
	if len(b.held) == 0 {
		return out, 0
	}
	lowest, first := b.next, true
	for seq := range b.held {
		if first || int16(seq-lowest) < 0 {
			lowest, first = seq, false
		}
	}
	lost := int(uint16(lowest - b.next))
	b.next = lowest
	return b.drain(out), lost
}

// drain hands on held packets from next on while they follow each other.
func (b *reorderBuffer) drain(out []reorderedPacket) []reorderedPacket {
	for {
		rp, ok := b.held[b.next]
		if !ok {
			break
		}
		delete(b.held, b.next)
		out = append(out, rp)
		b.next++
	}
	if len(b.held) > 0 {
		b.oldest = time.Time{}
		for _, rp := range b.held {
			if b.oldest.IsZero() || rp.arrival.Before(b.oldest) {
				b.oldest = rp.arrival
			}
		}
	}
	return out
}

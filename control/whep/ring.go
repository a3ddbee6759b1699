package whep

// packet is one RTP packet of a stream, packetised once and sent to every
// viewer; only the SSRC and payload type differ per viewer.
type packet struct {
	seq      uint16
	ts       uint32
	marker   bool
	keyStart bool // first packet of a keyframe: a decoder can start here
	valid    bool
	payload  []byte // reused from slot to slot as the ring turns
}

// ring keeps a stream's last packets by sequence number. It is both the
// retransmission buffer every viewer's NACKs are answered from (one per
// stream, not a copy per viewer) and the cache a new viewer starts from:
// the packets since the last keyframe.
type ring struct {
	slots   []packet
	mask    int
	slotCap int    // payload capacity a slot gets on first use
	next    uint16 // sequence number of the next packet
	// keySeq is the first packet of the last keyframe; sinceKey counts the
	// packets written from it on, to tell whether it is still in the ring.
	keySeq   uint16
	sinceKey int
	haveKey  bool
}

func newRing(size int, firstSeq uint16, slotCap int) *ring {
	return &ring{slots: make([]packet, size), mask: size - 1, next: firstSeq, slotCap: slotCap}
}

// add takes the next slot; the caller fills payload.
func (r *ring) add(ts uint32, keyStart bool) *packet {
	p := &r.slots[int(r.next)&r.mask]
	p.seq, p.ts, p.marker, p.keyStart, p.valid = r.next, ts, false, keyStart, true
	if p.payload == nil {
		// Once, at full size: a slot is reused for good after that.
		p.payload = make([]byte, 0, r.slotCap)
	}
	p.payload = p.payload[:0]
	if keyStart {
		r.keySeq, r.sinceKey, r.haveKey = r.next, 0, true
	}
	r.sinceKey++
	r.next++
	return p
}

// get returns the packet with that sequence number if the ring still has it.
func (r *ring) get(seq uint16) *packet {
	p := &r.slots[int(seq)&r.mask]
	if !p.valid || p.seq != seq || uint16(r.next-seq) > uint16(len(r.slots)) || seq == r.next {
		return nil
	}
	return p
}

// gop returns the sequence range [from, r.next) since the last keyframe, or
// false when the ring no longer holds all of it.
func (r *ring) gop() (from uint16, ok bool) {
	if !r.haveKey || r.sinceKey > len(r.slots) {
		return 0, false
	}
	return r.keySeq, true
}

// forgetKey drops the keyframe start, after the codec parameters changed.
func (r *ring) forgetKey() { r.haveKey = false }

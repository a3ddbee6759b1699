package whepclient

// SeqGaps counts RTP packets lost, from gaps in the sequence numbers of
// one track. Late packets (reordered) neither count nor move it back.
type SeqGaps struct {
	last    uint16
	started bool
}

// Next takes the sequence number of a packet just read and returns how
// many packets are missing before it.
func (g *SeqGaps) Next(seq uint16) uint64 {
	if !g.started {
		g.last, g.started = seq, true
		return 0
	}
	var lost uint64
	if d := seq - g.last; d > 1 && d < 0x8000 {
		lost = uint64(d - 1)
	}
	if int16(seq-g.last) > 0 {
		g.last = seq
	}
	return lost
}

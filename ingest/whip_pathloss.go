package ingest

import "time"

// pathLossWindow is how far back the path loss share looks: long enough
// for a steady figure at a few % loss, short enough to follow a link that
// got worse.
const pathLossWindow = 10 * time.Second

// seqGaps counts what a track's packets say of the path before any repair:
// a packet whose sequence number jumps past the next one due marks the ones
// between as missing. A retransmission or a late packet (behind the
// highest seen) fills nothing: the count is the loss on the wire, which
// NACKs then hide from the picture. Reordering on the path reads as loss;
// it is rare on the links this carries and loopback has none.
type seqGaps struct {
	have     bool
	highest  uint16
	expected uint64 // packets due, first to highest
	missed   uint64
}

// maxSeqJump is the largest jump read as loss (forward) or as a late
// packet (back); beyond it the sender restarted its numbering.
const maxSeqJump = 3000

func (g *seqGaps) add(seq uint16) {
	if !g.have {
		g.have, g.highest, g.expected = true, seq, 1
		return
	}
	d := int16(seq - g.highest)
	switch {
	case int(d) > maxSeqJump || int(d) < -maxSeqJump:
		g.highest = seq
		g.expected++
	case d <= 0: // a retransmission, a duplicate or a late packet
	default:
		g.expected += uint64(d)
		g.missed += uint64(d) - 1
		g.highest = seq
	}
}

// pathLoss keeps every track's gaps and a share over pathLossWindow from
// per-second samples of the totals.
type pathLoss struct {
	video, audio seqGaps
	samples      []pathSample // oldest first, one a second
}

type pathSample struct {
	at               time.Time
	expected, missed uint64
}

func (p *pathLoss) add(video bool, seq uint16) {
	if video {
		p.video.add(seq)
	} else {
		p.audio.add(seq)
	}
}

func (p *pathLoss) totals() (expected, missed uint64) {
	return p.video.expected + p.audio.expected, p.video.missed + p.audio.missed
}

// roll samples the totals once a second (called from the source's tick).
func (p *pathLoss) roll(now time.Time) {
	if n := len(p.samples); n > 0 && now.Sub(p.samples[n-1].at) < time.Second {
		return
	}
	e, m := p.totals()
	p.samples = append(p.samples, pathSample{at: now, expected: e, missed: m})
	cut := 0
	for cut < len(p.samples)-1 && now.Sub(p.samples[cut+1].at) >= pathLossWindow {
		cut++
	}
	p.samples = p.samples[cut:]
}

// share is the percentage missing over the window (since the first packet
// while the window is not yet full).
func (p *pathLoss) share() float64 {
	e, m := p.totals()
	if len(p.samples) > 0 {
		e -= p.samples[0].expected
		m -= p.samples[0].missed
	}
	if e == 0 {
		return 0
	}
	return 100 * float64(m) / float64(e)
}

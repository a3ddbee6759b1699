package ingest

import (
	"testing"
	"time"
)

// TestSeqGaps: gaps in the sequence numbers count as the path's loss;
// retransmissions, duplicates and late packets fill nothing; the numbers
// wrap; a jump of a restarted sender is not loss.
func TestSeqGaps(t *testing.T) {
	tests := []struct {
		name             string
		seqs             []uint16
		expected, missed uint64
	}{
		{"in order", []uint16{10, 11, 12, 13}, 4, 0},
		{"one lost", []uint16{10, 11, 13, 14}, 5, 1},
		{"lost then retransmitted", []uint16{10, 11, 13, 12, 14}, 5, 1},
		{"duplicate", []uint16{10, 11, 11, 12}, 3, 0},
		{"three lost across the wrap", []uint16{65533, 65534, 2, 3}, 7, 3},
		{"sender restarted", []uint16{100, 101, 40000, 40001}, 4, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var g seqGaps
			for _, s := range tc.seqs {
				g.add(s)
			}
			if g.expected != tc.expected || g.missed != tc.missed {
				t.Errorf("expected %d missed %d, want %d and %d", g.expected, g.missed, tc.expected, tc.missed)
			}
		})
	}
}

// TestPathLossWindow: the share follows the last 10 s: a loss burst long
// past no longer counts.
func TestPathLossWindow(t *testing.T) {
	var p pathLoss
	start := time.Unix(1000, 0)
	seq := uint16(0)
	// 5 s losing 1 packet in 10, then 15 s losing none: 100 packets a second.
	for sec := range 20 {
		now := start.Add(time.Duration(sec) * time.Second)
		p.roll(now)
		for i := range 100 {
			seq++
			if sec < 5 && i%10 == 0 {
				continue
			}
			p.add(true, seq)
		}
		if sec == 4 {
			p.roll(now.Add(999 * time.Millisecond)) // within the second: no new sample
			if got := p.share(); got < 9 || got > 11 {
				t.Errorf("after the lossy 5 s: %.2f %%, want about 10", got)
			}
		}
	}
	p.roll(start.Add(20 * time.Second))
	if got := p.share(); got != 0 {
		t.Errorf("10 s after the losses: %.2f %%, want 0", got)
	}
	if _, missed := p.totals(); missed < 40 || missed > 50 {
		t.Errorf("%d missed in all, want about 50", missed)
	}
}

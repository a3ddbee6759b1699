package whepclient

import "testing"

func TestSeqGaps(t *testing.T) {
	cases := []struct {
		name string
		seqs []uint16
		want uint64
	}{
		{name: "in order", seqs: []uint16{10, 11, 12, 13}, want: 0},
		{name: "one gap", seqs: []uint16{10, 11, 14, 15}, want: 2},
		{name: "wraps around", seqs: []uint16{65534, 65535, 0, 2}, want: 1},
		{name: "late packet does not count or rewind", seqs: []uint16{10, 12, 11, 13}, want: 1},
		{name: "duplicate", seqs: []uint16{10, 11, 11, 12}, want: 0},
		{name: "first packet starts the count", seqs: []uint16{500}, want: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var g SeqGaps
			var lost uint64
			for _, s := range c.seqs {
				lost += g.Next(s)
			}
			if lost != c.want {
				t.Errorf("lost %d, want %d", lost, c.want)
			}
		})
	}
}

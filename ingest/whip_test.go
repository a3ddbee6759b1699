package ingest

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestReorderBuffer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type in struct {
		seq uint16
		at  int // ms
	}
	for _, tc := range []struct {
		name     string
		window   time.Duration
		packets  []in
		flushAt  int // ms; 0: no flush
		wantSeqs []uint16
		wantLost int
	}{
		{"in order", 100 * time.Millisecond, []in{{10, 0}, {11, 1}, {12, 2}}, 0, []uint16{10, 11, 12}, 0},
		{"swapped pair", 100 * time.Millisecond, []in{{10, 0}, {12, 1}, {11, 2}, {13, 3}}, 0, []uint16{10, 11, 12, 13}, 0},
		{"duplicate and late", 100 * time.Millisecond, []in{{10, 0}, {11, 1}, {11, 2}, {10, 3}, {12, 4}}, 0, []uint16{10, 11, 12}, 0},
		{"gap waits for the window", 100 * time.Millisecond, []in{{10, 0}, {12, 1}, {13, 50}}, 0, []uint16{10}, 0},
		{"gap given up after the window", 100 * time.Millisecond, []in{{10, 0}, {12, 1}, {13, 50}}, 120, []uint16{10, 12, 13}, 1},
		{"retransmission in time", 100 * time.Millisecond, []in{{10, 0}, {12, 1}, {13, 2}, {11, 60}}, 0, []uint16{10, 11, 12, 13}, 0},
		{"gap given up by a later packet", 100 * time.Millisecond, []in{{10, 0}, {13, 1}, {14, 150}}, 0, []uint16{10, 13, 14}, 2},
		{"sequence wraps", 100 * time.Millisecond, []in{{65534, 0}, {0, 1}, {65535, 2}, {1, 3}}, 0, []uint16{65534, 65535, 0, 1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newReorderBuffer(tc.window)
			var got []uint16
			lost := 0
			take := func(out []reorderedPacket, l int) {
				lost += l
				for _, p := range out {
					got = append(got, p.pkt.SequenceNumber)
				}
			}
			for _, p := range tc.packets {
				take(b.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: p.seq}}, ms(p.at)))
			}
			if tc.flushAt > 0 {
				take(b.flush(ms(tc.flushAt)))
			}
			if len(got) != len(tc.wantSeqs) || lost != tc.wantLost {
				t.Fatalf("handed on %v, lost %d; want %v, lost %d", got, lost, tc.wantSeqs, tc.wantLost)
			}
			for i := range got {
				if got[i] != tc.wantSeqs[i] {
					t.Fatalf("handed on %v, want %v", got, tc.wantSeqs)
				}
			}
		})
	}
}

// TestAlignTracks: the tracks are first timed from their first packet's
// arrival; once both have sender reports, the early one is moved later so
// that picture and sound keep the relation the publisher's clock gives.
func TestAlignTracks(t *testing.T) {
	start := time.Unix(2000, 0)
	ntp0 := time.Unix(5000, 0)
	for _, tc := range []struct {
		name string
		// The publisher captured audio and video at the same instant (NTP
		// ntp0), but the audio's first packet arrived audioLate after the
		// video's.
		audioLate time.Duration
		wantVideo time.Duration // shift of video
		wantAudio time.Duration
	}{
		{"audio arrived 120 ms late: video moves later", 120 * time.Millisecond, 120 * time.Millisecond, 0},
		{"audio arrived 80 ms early: audio moves later", -80 * time.Millisecond, 0, 80 * time.Millisecond},
		{"within tolerance: nothing moves", 2 * time.Millisecond, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v, a srClock
			vArrive := start.Add(200 * time.Millisecond)
			aArrive := vArrive.Add(tc.audioLate)
			first := vArrive
			if aArrive.Before(first) {
				first = aArrive
			}
			// First packets: video RTP 1000 and audio RTP 5000, both
			// captured at ntp0.
			v.pts(1000, vArrive, first, 90000)
			a.pts(5000, aArrive, first, 48000)
			v.report(1000+90000, ntp0.Add(time.Second), 90000)
			a.report(5000+48000, ntp0.Add(time.Second), 48000)
			alignTracks(&v, &a, 90000, 48000)
			if got := unitsDuration(v.shift, 90000); (got - tc.wantVideo).Abs() > time.Millisecond {
				t.Errorf("video moved %v, want %v", got, tc.wantVideo)
			}
			if got := unitsDuration(a.shift, 48000); (got - tc.wantAudio).Abs() > time.Millisecond {
				t.Errorf("audio moved %v, want %v", got, tc.wantAudio)
			}
			// After the step, a picture and a sound captured at the same
			// instant have the same presentation time.
			vp := unitsDuration(v.pts(1000+9000, vArrive, first, 90000), 90000)
			ap := unitsDuration(a.pts(5000+4800, aArrive, first, 48000), 48000)
			if d := (vp - ap).Abs(); d > syncTolerance {
				t.Errorf("video at %v, audio at %v for the same instant", vp, ap)
			}
			// A second report changes nothing.
			v.report(1000+2*90000, ntp0.Add(2*time.Second), 90000)
			if d := alignTracks(&v, &a, 90000, 48000); d != 0 {
				t.Errorf("second alignment stepped %v", d)
			}
		})
	}
}

package main

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// TestDepacketizeH264: access units come out whole from their packets;
// LiveKit's padding probes between frames take sequence numbers without
// costing a frame, while a packet really missing drops its frame (and,
// before the first keyframe, everything up to the next).
func TestDepacketizeH264(t *testing.T) {
	sps := []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	idr := append([]byte{0x65}, make([]byte, 3000)...) // spans FU-A packets
	p := append([]byte{0x41}, make([]byte, 2000)...)   // two packets
	annexB := func(nalus ...[]byte) []byte {
		var b []byte
		for _, n := range nalus {
			b = append(b, 0, 0, 0, 1)
			b = append(b, n...)
		}
		return b
	}
	frames := [][]byte{annexB(sps, pps, idr), annexB(p), annexB(p)}
	probe := &rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, PayloadType: 102}, Payload: make([]byte, 255)}

	tests := []struct {
		name    string
		probes  bool // a probe after each frame
		lose    int  // the frame whose first packet is lost, -1 none
		samples int
	}{
		{"whole", false, -1, 3},
		{"probes between frames", true, -1, 3},
		{"a packet of the keyframe lost", false, 0, 0},
		{"a packet of a later frame lost", true, 1, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pkts []*rtp.Packet
			var seq uint16 = 65530 // wraps
			for i, f := range frames {
				var pl codecs.H264Payloader
				payloads := pl.Payload(1200, f)
				for j, b := range payloads {
					if i == tc.lose && j == 0 {
						seq++
						continue
					}
					pkts = append(pkts, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SequenceNumber: seq,
						Timestamp: uint32(3000 * i), Marker: j == len(payloads)-1}, Payload: b})
					seq++
				}
				if tc.probes {
					pr := *probe
					pr.SequenceNumber, pr.Timestamp = seq, uint32(3000*i)
					pkts = append(pkts, &pr)
					seq++
				}
			}
			m := depacketizeH264(pkts, func(ts uint32) time.Duration { return time.Duration(ts) * time.Second / 90000 })
			got := 0
			if m != nil {
				got = len(m.Samples)
			}
			if got != tc.samples {
				t.Fatalf("%d access units, want %d", got, tc.samples)
			}
		})
	}
}

// TestNTPDuration: an NTP time's fraction is 2^-32 s.
func TestNTPDuration(t *testing.T) {
	if got, want := ntpDuration(3<<32|1<<31), 3500*time.Millisecond; got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

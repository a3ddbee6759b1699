package avsync

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

func TestRTPClock(t *testing.T) {
	arrival := time.Unix(1_700_000_000, 0)
	pkt := func(ts uint32) receivedPacket {
		return receivedPacket{pkt: &rtp.Packet{Header: rtp.Header{Timestamp: ts}}, arrival: arrival}
	}
	tests := []struct {
		name  string
		track *rtpTrack
		ts    uint32
		want  time.Duration // from the track's reference
		clock string
	}{
		{
			name:  "the last sender report maps RTP time to the sender's clock",
			track: &rtpTrack{clockRate: 90000, pkts: []receivedPacket{pkt(1000)}, srs: []senderReport{{ntp: 5 * time.Second, rtp: 0}, {ntp: 10 * time.Second, rtp: 90000}}},
			ts:    180000, want: 11 * time.Second, clock: "rtcp",
		},
		{
			name:  "across the 32-bit wrap",
			track: &rtpTrack{clockRate: 48000, pkts: []receivedPacket{pkt(1)}, srs: []senderReport{{ntp: 10 * time.Second, rtp: 0xffffff00}}},
			ts:    48000 - 0x100, want: 11 * time.Second, clock: "rtcp", // 0x100 ticks to the wrap, then 47744
		},
		{
			name:  "before the report",
			track: &rtpTrack{clockRate: 48000, pkts: []receivedPacket{pkt(1)}, srs: []senderReport{{ntp: 10 * time.Second, rtp: 96000}}},
			ts:    48000, want: 9 * time.Second, clock: "rtcp",
		},
		{
			name:  "no report: the first packet's arrival",
			track: &rtpTrack{clockRate: 90000, pkts: []receivedPacket{pkt(9000)}},
			ts:    9000 + 45000, want: 500 * time.Millisecond, clock: "arrival",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at, name := tc.track.clock()
			if name != tc.clock {
				t.Errorf("clock %q, want %q", name, tc.clock)
			}
			got := at(tc.ts)
			if name == "arrival" {
				got -= at(tc.track.pkts[0].pkt.Timestamp)
			}
			if got != tc.want {
				t.Errorf("time %v, want %v", got, tc.want)
			}
		})
	}
}

func TestInOrder(t *testing.T) {
	seqs := func(ps []receivedPacket) []uint16 {
		var out []uint16
		for _, p := range ps {
			out = append(out, p.pkt.SequenceNumber)
		}
		return out
	}
	packets := func(s ...uint16) []receivedPacket {
		var out []receivedPacket
		for _, n := range s {
			out = append(out, receivedPacket{pkt: &rtp.Packet{Header: rtp.Header{SequenceNumber: n}}})
		}
		return out
	}
	tests := []struct {
		name string
		in   []uint16
		want []uint16
	}{
		{"in order", []uint16{1, 2, 3}, []uint16{1, 2, 3}},
		{"a retransmission comes late", []uint16{1, 2, 4, 5, 3}, []uint16{1, 2, 3, 4, 5}},
		{"a duplicate", []uint16{1, 2, 2, 3}, []uint16{1, 2, 3}},
		{"across the wrap", []uint16{65534, 0, 65535, 1}, []uint16{65534, 65535, 0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := seqs(inOrder(packets(tc.in...))); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDepacketizeOpusKeepsHoles(t *testing.T) {
	tr := &rtpTrack{kind: webrtc.RTPCodecTypeAudio, mime: webrtc.MimeTypeOpus, clockRate: 48000}
	for _, ts := range []uint32{0, 960, 1920, 9600} { // 140 ms lost after the third
		tr.pkts = append(tr.pkts, receivedPacket{pkt: &rtp.Packet{Header: rtp.Header{Timestamp: ts}, Payload: []byte{0xf8}}})
	}
	at, _ := tr.clock()
	m, err := depacketize(tr, at)
	if err != nil || m == nil || len(m.Samples) != 4 {
		t.Fatalf("%v %+v", err, m)
	}
	if d := m.At[3] - m.At[2]; d != 160*time.Millisecond {
		t.Errorf("the hole lasts %v on the timeline, want 160ms", d)
	}
}

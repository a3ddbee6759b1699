package whep

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp/codecs"

	"diemcau/pipeline"
	"diemcau/pipeline/h26x"
)

// nalFUA is the NAL unit type of an FU-A fragment, for tests that read
// packets back.
const nalFUA = h26x.H264FUA

func TestPacketizeH264RoundTrip(t *testing.T) {
	sps := []byte{0x67, 0x64, 0x00, 0x1f, 1, 2, 3}
	pps := []byte{0x68, 0xee, 0x3c, 0x80}
	track := &pipeline.Track{Codec: pipeline.H264, SPS: sps, PPS: pps}
	big := make([]byte, 5000)
	big[0] = 0x65 // IDR
	for i := 1; i < len(big); i++ {
		big[i] = byte(i * 7)
	}
	small := []byte{0x41, 9, 9, 9}
	cases := []struct {
		name  string
		frame pipeline.Frame
		want  [][]byte // NAL units a depacketizer must give back
	}{
		{"keyframe without parameter sets gets them in-band", pipeline.Frame{Track: track, Key: true, NALUs: [][]byte{{0x09, 0xf0}, big}}, [][]byte{sps, pps, big}},
		{"keyframe with its own parameter sets", pipeline.Frame{Track: track, Key: true, NALUs: [][]byte{sps, pps, big}}, [][]byte{sps, pps, big}},
		{"small P-frame is one packet", pipeline.Frame{Track: track, NALUs: [][]byte{small}}, [][]byte{small}},
		{"two slices", pipeline.Frame{Track: track, NALUs: [][]byte{small, big[:1300]}}, [][]byte{small, big[:1300]}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing(64, 65530) // wraps during the frame
			first := r.next
			n := packetizeH264(r, &tc.frame, 1234)
			var got [][]byte
			var dp codecs.H264Packet
			for i := range n {
				p := r.get(first + uint16(i))
				if p == nil {
					t.Fatalf("packet %d missing from the ring", i)
				}
				if len(p.payload) > maxPayload {
					t.Errorf("packet %d: %d bytes, over %d", i, len(p.payload), maxPayload)
				}
				if p.ts != 1234 {
					t.Errorf("packet %d: timestamp %d", i, p.ts)
				}
				if p.marker != (i == n-1) {
					t.Errorf("packet %d of %d: marker %v", i, n, p.marker)
				}
				if p.keyStart != (tc.frame.Key && i == 0) {
					t.Errorf("packet %d: keyStart %v", i, p.keyStart)
				}
				out, err := dp.Unmarshal(append([]byte(nil), p.payload...))
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				for _, u := range bytes.Split(out, []byte{0, 0, 0, 1}) {
					if len(u) > 0 {
						got = append(got, u)
					}
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d NAL units, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Errorf("NAL unit %d differs (%d bytes, want %d)", i, len(got[i]), len(tc.want[i]))
				}
			}
		})
	}
}

func TestPacketizeAudio(t *testing.T) {
	r := newRing(64, 0)
	opus := &pipeline.Frame{Track: &pipeline.Track{Codec: pipeline.Opus}, Payload: []byte{1, 2, 3}}
	if n := packetizeAudio(r, opus, 10); n != 1 || !bytes.Equal(r.get(0).payload, []byte{1, 2, 3}) {
		t.Fatalf("opus: %d packets", n)
	}
	g711 := &pipeline.Frame{Track: &pipeline.Track{Codec: pipeline.PCMU}, Payload: make([]byte, 3000)}
	if n := packetizeAudio(r, g711, 100); n != 3 {
		t.Fatalf("3000 bytes of G.711: %d packets, want 3", n)
	}
	for i, want := range []uint32{100, 100 + maxPayload, 100 + 2*maxPayload} {
		if p := r.get(uint16(1 + i)); p.ts != want {
			t.Errorf("G.711 packet %d: timestamp %d, want %d (one tick per sample)", i, p.ts, want)
		}
	}
}

func TestRTPTime(t *testing.T) {
	cases := []struct {
		d     time.Duration
		clock int
		want  uint32
	}{
		{time.Second, 90000, 90000},
		{40 * time.Millisecond, 90000, 3600},
		{20 * time.Millisecond, 48000, 960},
		// A day-long session does not overflow; the value wraps as RTP does.
		{24 * time.Hour, 90000, uint32(uint64(24*3600*90000) % (1 << 32))},
	}
	for _, c := range cases {
		if got := rtpTime(c.d, c.clock); got != c.want {
			t.Errorf("rtpTime(%v, %d) = %d, want %d", c.d, c.clock, got, c.want)
		}
	}
}

func TestRingForgetsOverwrittenPackets(t *testing.T) {
	r := newRing(64, 100)
	r.add(0, true, nil, []byte{1})
	if r.get(100) != nil {
		t.Error("a packet not yet published is returned")
	}
	r.publish(true)
	if from, ok := r.gop(); !ok || from != 100 {
		t.Errorf("gop() = %d, %v; want 100, true", from, ok)
	}
	for range 70 {
		r.add(0, false, nil, []byte{2})
		r.publish(true)
	}
	if r.get(100) != nil {
		t.Error("packet 100 was overwritten but is still returned")
	}
	if _, ok := r.gop(); ok {
		t.Error("the keyframe left the ring but gop() still offers it")
	}
	if p := r.get(r.published() - 1); p == nil || p.payload[0] != 2 || !p.marker {
		t.Error("newest packet missing or not marked")
	}
	if r.get(r.published()) != nil {
		t.Error("a packet not yet written is returned")
	}
}

// BenchmarkPacketizeH264 writes one frame of a 720p 2 Mbit/s GOP into the
// ring, as the broadcaster does once per frame for all viewers. The ring's
// payload chunks and packet blocks are amortised over many frames.
func BenchmarkPacketizeH264(b *testing.B) {
	track := &pipeline.Track{Codec: pipeline.H264, SPS: []byte{0x67, 0x64, 0x00, 0x1f, 1, 2, 3}, PPS: []byte{0x68, 0xee, 0x3c, 0x80}}
	nalu := func(typ byte, n int) []byte {
		u := make([]byte, n)
		for i := range u {
			u[i] = byte(i * 7)
		}
		u[0] = 0x60 | typ
		return u
	}
	frames := []*pipeline.Frame{{Track: track, Key: true, NALUs: [][]byte{nalu(6, 600), nalu(5, 40000)}}}
	for range 29 {
		frames = append(frames, &pipeline.Frame{Track: track, NALUs: [][]byte{nalu(1, 7300)}})
	}
	r := newRing(4096, 0)
	b.ReportAllocs()
	packets, i := 0, 0
	for b.Loop() {
		packets += packetizeH264(r, frames[i%len(frames)], uint32(i*3000))
		i++
	}
	b.ReportMetric(float64(packets)/float64(i), "packets/frame")
}

package bench

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/pion/rtp"

	"diemcau/ingest"
	"diemcau/pipeline"
)

// h264GOP is one second of 720p30 H.264 at about 2 Mbit/s, shaped like an
// encoder's output: a keyframe with SPS, PPS, SEI and a 40 kB IDR slice,
// then 29 P-frames of one 7.3 kB slice each (≈ 252 kB/s).
func h264GOP(track *pipeline.Track) []*pipeline.Frame {
	rng := rand.New(rand.NewPCG(7, 20))
	nalu := func(typ byte, n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		b[0] = 0x60 | typ
		return b
	}
	frames := []*pipeline.Frame{{
		Track: track, Key: true,
		NALUs: [][]byte{track.SPS, track.PPS, nalu(6, 600), nalu(5, 40000)},
	}}
	for i := 1; i < 30; i++ {
		frames = append(frames, &pipeline.Frame{Track: track, NALUs: [][]byte{nalu(1, 7300)}})
	}
	for i, f := range frames {
		f.PTS = time.Duration(i) * time.Second / 30
		f.DTS = f.PTS
	}
	return frames
}

func gopBytes(frames []*pipeline.Frame) int64 {
	var n int64
	for _, f := range frames {
		n += int64(f.Size())
	}
	return n / int64(len(frames))
}

// BenchmarkPacketizeH264 turns one frame of a 720p 2 Mbit/s GOP into RTP
// packets, as the RTSP re-serve does once per frame for all its readers.
// "diemcau" is ingest.Packetizer (packets and buffers reused); "gortsplib"
// is gortsplib's rtph264 encoder on the same frames, for comparison.
func BenchmarkPacketizeH264(b *testing.B) {
	track := &pipeline.Track{
		Codec: pipeline.H264, Width: 1280, Height: 720,
		SPS: []byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x6a, 0x02, 0x02, 0x02, 0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x1e, 0x07, 0x8c, 0x18, 0xcb},
		PPS: []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0},
	}
	frames := h264GOP(track)

	b.Run("diemcau", func(b *testing.B) {
		p, err := ingest.NewPacketizer(track)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(gopBytes(frames))
		b.ReportAllocs()
		packets := 0
		i := 0
		for b.Loop() {
			pkts, err := p.Packetize(frames[i%len(frames)])
			if err != nil {
				b.Fatal(err)
			}
			packets += len(pkts)
			i++
		}
		b.ReportMetric(float64(packets)/float64(i), "packets/frame")
	})

	b.Run("gortsplib", func(b *testing.B) {
		enc := &rtph264.Encoder{PayloadType: 96, PacketizationMode: 1}
		if err := enc.Init(); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(gopBytes(frames))
		b.ReportAllocs()
		packets := 0
		i := 0
		var pkts []*rtp.Packet
		for b.Loop() {
			f := frames[i%len(frames)]
			var err error
			pkts, err = enc.Encode(f.NALUs)
			if err != nil {
				b.Fatal(err)
			}
			for _, pkt := range pkts {
				pkt.Timestamp = uint32(f.PTS * 90000 / time.Second)
			}
			packets += len(pkts)
			i++
		}
		b.ReportMetric(float64(packets)/float64(i), "packets/frame")
	})
}

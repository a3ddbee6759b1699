package ingest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"diemcau/pipeline"
	"diemcau/pipeline/h26x"
)

// nalu makes a NAL unit of n bytes with the given type and random content.
func nalu(rng *rand.Rand, hevc bool, typ byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	if hevc {
		b[0] = typ << 1
		b[1] = 1 // nuh_temporal_id_plus1
	} else {
		b[0] = 0x60 | typ
	}
	return b
}

func testVideoTrack(hevc bool) *pipeline.Track {
	if hevc {
		return &pipeline.Track{Codec: pipeline.H265, VPS: []byte{0x40, 0x01, 0xaa}, SPS: []byte{0x42, 0x01, 0xbb}, PPS: []byte{0x44, 0x01, 0xcc}}
	}
	return &pipeline.Track{Codec: pipeline.H264, SPS: []byte{0x67, 0x42, 0xc0, 0x1e}, PPS: []byte{0x68, 0xce, 0x3c, 0x80}}
}

// TestVideoPacketizerMatchesGortsplib checks the re-serve's packets against
// gortsplib's encoders': same headers, same payloads (the layout itself is
// tested case by case in pipeline/h26x).
func TestVideoPacketizerMatchesGortsplib(t *testing.T) {
	cases := []struct {
		name  string
		sizes []int // NAL unit sizes
	}{
		{"small ones aggregated", []int{20, 5, 30, 500}},
		{"params then large", []int{20, 5, 40000}},
		{"large then tiny", []int{3000, 10, 12}},
	}
	for _, hevc := range []bool{false, true} {
		codec := "h264"
		if hevc {
			codec = "h265"
		}
		for _, tc := range cases {
			t.Run(codec+"/"+tc.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, uint64(len(tc.sizes))))
				var au [][]byte
				for _, n := range tc.sizes {
					typ := byte(1)
					if hevc {
						typ = 1 // TRAIL_R
					}
					au = append(au, nalu(rng, hevc, typ, n))
				}
				p, err := NewPacketizer(testVideoTrack(hevc))
				if err != nil {
					t.Fatal(err)
				}
				ssrc, seq := p.video.ssrc, p.video.seq
				var want []*rtp.Packet
				if hevc {
					enc := &rtph265.Encoder{PayloadType: videoPayloadType, SSRC: &ssrc, InitialSequenceNumber: &seq, PayloadMaxSize: rtpPayloadMax}
					if err := enc.Init(); err != nil {
						t.Fatal(err)
					}
					want, err = enc.Encode(au)
				} else {
					enc := &rtph264.Encoder{PayloadType: videoPayloadType, SSRC: &ssrc, InitialSequenceNumber: &seq, PayloadMaxSize: rtpPayloadMax, PacketizationMode: 1}
					if err := enc.Init(); err != nil {
						t.Fatal(err)
					}
					want, err = enc.Encode(au)
				}
				if err != nil {
					t.Fatal(err)
				}
				got, err := p.Packetize(&pipeline.Frame{NALUs: au, PTS: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("%d packets, gortsplib makes %d", len(got), len(want))
				}
				for i := range got {
					g, w := got[i], want[i]
					if g.SequenceNumber != w.SequenceNumber || g.Marker != w.Marker || g.SSRC != w.SSRC || g.PayloadType != w.PayloadType {
						t.Errorf("packet %d header %+v, want %+v", i, g.Header, w.Header)
					}
					if !hevc && len(w.Payload) > 0 && w.Payload[0]&0x1f == h26x.H264STAPA {
						// gortsplib writes a STAP-A's NRI as 0, RFC 6184
						// its units' highest (h26x.TestAggregateHeaders).
						w.Payload[0] |= 0x60
					}
					if !bytes.Equal(g.Payload, w.Payload) {
						t.Errorf("packet %d payload differs (%d vs %d bytes)", i, len(g.Payload), len(w.Payload))
					}
					if g.Timestamp != p.Timestamp(time.Second) {
						t.Errorf("packet %d timestamp %d, want %d", i, g.Timestamp, p.Timestamp(time.Second))
					}
					if len(g.Payload) > rtpPayloadMax {
						t.Errorf("packet %d payload %d > %d", i, len(g.Payload), rtpPayloadMax)
					}
				}
			})
		}
	}
}

// TestVideoPacketizerKeyframeParams: a keyframe without its parameter sets
// is sent with the track's, so a decoder joining there can start; one that
// has them is sent as is.
func TestVideoPacketizerKeyframeParams(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	cases := []struct {
		name       string
		hevc       bool
		au         func(tr *pipeline.Track) [][]byte
		key        bool
		wantPrefix func(tr *pipeline.Track) [][]byte
	}{
		{"h264 idr without params", false, func(*pipeline.Track) [][]byte { return [][]byte{nalu(rng, false, 5, 3000)} }, true,
			func(tr *pipeline.Track) [][]byte { return [][]byte{tr.SPS, tr.PPS} }},
		{"h264 idr not flagged key", false, func(*pipeline.Track) [][]byte { return [][]byte{nalu(rng, false, 5, 100)} }, false,
			func(tr *pipeline.Track) [][]byte { return [][]byte{tr.SPS, tr.PPS} }},
		{"h264 idr with params", false, func(tr *pipeline.Track) [][]byte { return [][]byte{tr.SPS, tr.PPS, nalu(rng, false, 5, 100)} }, true,
			func(*pipeline.Track) [][]byte { return nil }},
		{"h264 non-idr", false, func(*pipeline.Track) [][]byte { return [][]byte{nalu(rng, false, 1, 100)} }, false,
			func(*pipeline.Track) [][]byte { return nil }},
		{"h265 idr without params", true, func(*pipeline.Track) [][]byte { return [][]byte{nalu(rng, true, 19, 2000)} }, true,
			func(tr *pipeline.Track) [][]byte { return [][]byte{tr.VPS, tr.SPS, tr.PPS} }},
		{"h265 cra not flagged", true, func(*pipeline.Track) [][]byte { return [][]byte{nalu(rng, true, 21, 200)} }, false,
			func(tr *pipeline.Track) [][]byte { return [][]byte{tr.VPS, tr.SPS, tr.PPS} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := testVideoTrack(tc.hevc)
			p, err := NewPacketizer(tr)
			if err != nil {
				t.Fatal(err)
			}
			au := tc.au(tr)
			pkts, err := p.Packetize(&pipeline.Frame{Track: tr, NALUs: au, Key: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			got := decodeVideo(t, tc.hevc, pkts)
			want := append(tc.wantPrefix(tr), au...)
			if len(got) != len(want) {
				t.Fatalf("decoded %d NAL units, want %d", len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("NAL unit %d differs", i)
				}
			}
		})
	}
}

func decodeVideo(t *testing.T, hevc bool, pkts []*rtp.Packet) [][]byte {
	t.Helper()
	var au [][]byte
	var err error
	if hevc {
		d := &rtph265.Decoder{}
		if err := d.Init(); err != nil {
			t.Fatal(err)
		}
		for _, pkt := range pkts {
			au, err = d.Decode(pkt)
		}
	} else {
		d := &rtph264.Decoder{PacketizationMode: 1}
		if err := d.Init(); err != nil {
			t.Fatal(err)
		}
		for _, pkt := range pkts {
			au, err = d.Decode(pkt)
		}
	}
	if err != nil {
		t.Fatalf("gortsplib decoder: %v", err)
	}
	return au
}

func TestPacketizerTimestamp(t *testing.T) {
	cases := []struct {
		name  string
		codec pipeline.Codec
		pts   time.Duration
		ticks uint32
	}{
		{"video 1 s", pipeline.H264, time.Second, 90000},
		{"video 40 ms", pipeline.H264, 40 * time.Millisecond, 3600},
		{"opus 20 ms", pipeline.Opus, 20 * time.Millisecond, 960},
		{"g711 20 ms", pipeline.PCMU, 20 * time.Millisecond, 160},
		{"video after 30 h, no overflow", pipeline.H264, 30 * time.Hour, uint32(uint64(30*3600*90000) % (1 << 32))},
		{"video before zero", pipeline.H264, -time.Second, 1<<32 - 90000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := testVideoTrack(false)
			if tc.codec != pipeline.H264 {
				tr = &pipeline.Track{Codec: tc.codec, Channels: 1}
			}
			p, err := NewPacketizer(tr)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Timestamp(tc.pts) - p.Timestamp(0); got != tc.ticks {
				t.Errorf("ticks %d, want %d", got, tc.ticks)
			}
		})
	}
}

func TestPacketizerMedia(t *testing.T) {
	aacConf, err := mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 1}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	h264 := testVideoTrack(false)
	cases := []struct {
		name    string
		track   *pipeline.Track
		pt      uint8
		clock   int
		check   func(t *testing.T, f format.Format)
		payload []byte
	}{
		{"h264 params in fmtp", h264, 96, 90000, func(t *testing.T, f format.Format) {
			sprop := f.FMTP()["sprop-parameter-sets"]
			want := base64.StdEncoding.EncodeToString(h264.SPS) + "," + base64.StdEncoding.EncodeToString(h264.PPS)
			if sprop != want {
				t.Errorf("sprop-parameter-sets %q, want %q", sprop, want)
			}
			if f.FMTP()["packetization-mode"] != "1" {
				t.Errorf("packetization-mode %q", f.FMTP()["packetization-mode"])
			}
		}, nil},
		{"h265 params in fmtp", testVideoTrack(true), 96, 90000, func(t *testing.T, f format.Format) {
			for _, k := range []string{"sprop-vps", "sprop-sps", "sprop-pps"} {
				if f.FMTP()[k] == "" {
					t.Errorf("fmtp lacks %s", k)
				}
			}
		}, nil},
		{"aac from config", &pipeline.Track{Codec: pipeline.AAC, Config: aacConf, SampleRate: 48000, Channels: 1}, 97, 48000, func(t *testing.T, f format.Format) {
			if !strings.Contains(strings.ToLower(f.FMTP()["mode"]), "aac-hbr") {
				t.Errorf("fmtp %v", f.FMTP())
			}
		}, []byte{1, 2, 3, 4, 5}},
		{"aac without config", &pipeline.Track{Codec: pipeline.AAC, SampleRate: 44100, Channels: 2}, 97, 44100, nil, []byte{9, 8, 7}},
		{"opus stereo", &pipeline.Track{Codec: pipeline.Opus, SampleRate: 48000, Channels: 2}, 97, 48000, func(t *testing.T, f format.Format) {
			if f.FMTP()["sprop-stereo"] != "1" {
				t.Errorf("fmtp %v", f.FMTP())
			}
		}, []byte{0xfc, 1, 2}},
		{"pcmu static type", &pipeline.Track{Codec: pipeline.PCMU, SampleRate: 8000, Channels: 1}, 0, 8000, nil, make([]byte, 160)},
		{"pcma static type", &pipeline.Track{Codec: pipeline.PCMA, SampleRate: 8000, Channels: 1}, 8, 8000, nil, make([]byte, 160)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPacketizer(tc.track)
			if err != nil {
				t.Fatal(err)
			}
			f := p.Format()
			if f.PayloadType() != tc.pt || f.ClockRate() != tc.clock {
				t.Errorf("payload type %d clock %d, want %d %d", f.PayloadType(), f.ClockRate(), tc.pt, tc.clock)
			}
			if len(p.Media().Formats) != 1 || p.Media().Formats[0] != f {
				t.Errorf("media formats %v", p.Media().Formats)
			}
			if tc.check != nil {
				tc.check(t, f)
			}
			if tc.payload == nil {
				return
			}
			pts := 100 * time.Millisecond
			pkts, err := p.Packetize(&pipeline.Frame{Track: tc.track, PTS: pts, Payload: tc.payload})
			if err != nil {
				t.Fatal(err)
			}
			if len(pkts) != 1 || pkts[0].Timestamp != p.Timestamp(pts) || pkts[0].PayloadType != tc.pt {
				t.Fatalf("packets %v", pkts)
			}
			got := decodeAudio(t, f, pkts[0])
			if !bytes.Equal(got, tc.payload) {
				t.Errorf("decoded %x, want %x", got, tc.payload)
			}
		})
	}
}

func decodeAudio(t *testing.T, f format.Format, pkt *rtp.Packet) []byte {
	t.Helper()
	switch f := f.(type) {
	case *format.MPEG4Audio:
		d, err := f.CreateDecoder()
		if err != nil {
			t.Fatal(err)
		}
		aus, err := d.Decode(pkt)
		if err != nil || len(aus) != 1 {
			t.Fatalf("decode: %v (%d AUs)", err, len(aus))
		}
		return aus[0]
	case *format.Opus:
		d, err := f.CreateDecoder()
		if err != nil {
			t.Fatal(err)
		}
		b, err := d.Decode(pkt)
		if err != nil {
			t.Fatal(err)
		}
		return b
	case *format.G711:
		d, err := f.CreateDecoder()
		if err != nil {
			t.Fatal(err)
		}
		b, err := d.Decode(pkt)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("no decoder for %T", f)
	return nil
}

func TestPacketizerRefuses(t *testing.T) {
	cases := []struct {
		name   string
		track  *pipeline.Track
		unsupp bool
	}{
		{"nil track", nil, false},
		{"unknown codec", &pipeline.Track{Codec: "vp8"}, true},
		{"aac without anything", &pipeline.Track{Codec: pipeline.AAC}, false},
		{"aac with garbage config", &pipeline.Track{Codec: pipeline.AAC, Config: []byte{0xff}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPacketizer(tc.track)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrUnsupportedCodec) != tc.unsupp {
				t.Errorf("error %v: unsupported=%v, want %v", err, !tc.unsupp, tc.unsupp)
			}
		})
	}
	video, err := NewPacketizer(testVideoTrack(false))
	if err != nil {
		t.Fatal(err)
	}
	opus, err := NewPacketizer(&pipeline.Track{Codec: pipeline.Opus, Channels: 2})
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		p    *Packetizer
		f    *pipeline.Frame
	}{
		{"video without NAL units", video, &pipeline.Frame{}},
		{"video with empty NAL unit", video, &pipeline.Frame{NALUs: [][]byte{{}}}},
		{"audio without payload", opus, &pipeline.Frame{}},
	}
	for _, tc := range bad {
		if _, err := tc.p.Packetize(tc.f); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestVideoPacketizerNoAllocs: after the first frames the video path
// allocates nothing per frame.
func TestVideoPacketizerNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	tr := testVideoTrack(false)
	key := &pipeline.Frame{Track: tr, Key: true, NALUs: [][]byte{nalu(rng, false, 6, 30), nalu(rng, false, 5, 60000)}}
	delta := &pipeline.Frame{Track: tr, NALUs: [][]byte{nalu(rng, false, 1, 8000), nalu(rng, false, 1, 300)}}
	p, err := NewPacketizer(tr)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(50, func() {
		for _, f := range []*pipeline.Frame{key, delta} {
			if _, err := p.Packetize(f); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per key+delta frame pair, want 0", allocs)
	}
}

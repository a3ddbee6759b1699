package h26x

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"diemcau/pipeline"
)

// layOut lays au out and writes each payload into a buffer of its own,
// checking that Len, Put and Whole agree.
func layOut(t testing.TB, z Packetizer, au [][]byte) ([][]byte, error) {
	t.Helper()
	pays, err := z.Append(nil, au)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, p := range pays {
		b := make([]byte, p.Len())
		if n := p.Put(b); n != len(b) {
			t.Fatalf("Put wrote %d bytes, Len says %d", n, len(b))
		}
		if w := p.Whole(); w != nil && !bytes.Equal(w, b) {
			t.Fatal("Whole differs from what Put writes")
		}
		out = append(out, b)
	}
	return out, nil
}

// arena writes payloads into one buffer, as the RTSP packetiser does:
// after the first frames it allocates nothing.
type arena struct {
	pays []Payload
	buf  []byte
	n    int
}

func (a *arena) write(z Packetizer, au [][]byte) error {
	var err error
	if a.pays, err = z.Append(a.pays[:0], au); err != nil {
		return err
	}
	a.buf = a.buf[:0]
	for i := range a.pays {
		p := &a.pays[i]
		if p.Whole() == nil {
			l := len(a.buf)
			a.buf = a.buf[:l+p.Len()]
			p.Put(a.buf[l:])
		}
	}
	a.n += len(a.pays)
	return nil
}

// nalu makes a NAL unit of n bytes with the given type and random content.
func nalu(rng *rand.Rand, c pipeline.Codec, typ byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	if c == pipeline.H265 {
		b[0] = typ << 1
		b[1] = 1 // nuh_temporal_id_plus1
	} else {
		b[0] = 0x60 | typ
	}
	return b
}

const testMax = 1450

// TestAggregateMatchesGortsplib: the aggregating layout is gortsplib's
// rtph264/rtph265 encoders', payload for payload.
func TestAggregateMatchesGortsplib(t *testing.T) {
	cases := []struct {
		name  string
		sizes []int
	}{
		{"one small", []int{200}},
		{"small ones aggregated", []int{20, 5, 30, 500}},
		{"one large fragmented", []int{5000}},
		{"params then large", []int{20, 5, 40000}},
		{"several slices", []int{1400, 1400, 1400, 1400}},
		{"boundary below max", []int{testMax - 1}},
		{"boundary at max", []int{testMax}},
		{"boundary above max", []int{testMax + 1}},
		{"aggregate fills exactly", []int{testMax - 3 - 4 - 10, 10}},
		{"large then tiny", []int{3000, 10, 12}},
	}
	for _, c := range []pipeline.Codec{pipeline.H264, pipeline.H265} {
		for _, tc := range cases {
			t.Run(string(c)+"/"+tc.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, uint64(len(tc.sizes))))
				var au [][]byte
				for _, n := range tc.sizes {
					au = append(au, nalu(rng, c, 1, n)) // a non-IDR slice, TRAIL_R
				}
				var want []*rtp.Packet
				var err error
				if c == pipeline.H265 {
					enc := &rtph265.Encoder{PayloadType: 96, PayloadMaxSize: testMax}
					if err := enc.Init(); err != nil {
						t.Fatal(err)
					}
					want, err = enc.Encode(au)
				} else {
					enc := &rtph264.Encoder{PayloadType: 96, PayloadMaxSize: testMax, PacketizationMode: 1}
					if err := enc.Init(); err != nil {
						t.Fatal(err)
					}
					want, err = enc.Encode(au)
				}
				if err != nil {
					t.Fatal(err)
				}
				got, err := layOut(t, Packetizer{Codec: c, MaxPayload: testMax, Aggregate: true}, au)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("%d payloads, gortsplib makes %d", len(got), len(want))
				}
				for i := range got {
					// gortsplib writes a STAP-A's NRI as 0; RFC 6184
					// §5.7.1 asks for its units' highest, 3 here.
					if c == pipeline.H264 && len(got[i]) > 0 && got[i][0]&0x1f == H264STAPA {
						if got[i][0] != 0x60|H264STAPA {
							t.Errorf("payload %d: STAP-A header %#x, want NRI 3 (%#x)", i, got[i][0], 0x60|H264STAPA)
						}
						want[i].Payload[0] |= 0x60
					}
					if !bytes.Equal(got[i], want[i].Payload) {
						t.Errorf("payload %d differs (%d vs %d bytes)", i, len(got[i]), len(want[i].Payload))
					}
					if len(got[i]) > testMax {
						t.Errorf("payload %d: %d bytes > %d", i, len(got[i]), testMax)
					}
				}
			})
		}
	}
}

// TestSingleMatchesPion: without aggregation the layout is pion's
// H264Payloader's, which browsers are tested with, for every NAL unit but
// SPS and PPS (pion holds those back to aggregate them).
func TestSingleMatchesPion(t *testing.T) {
	const max = 1200
	rng := rand.New(rand.NewPCG(4, 4))
	for _, sizes := range [][]int{{200}, {20, 5, 30}, {max - 1}, {max}, {max + 1}, {5000, 12}, {40000}} {
		var au [][]byte
		var annexB []byte
		for _, n := range sizes {
			u := nalu(rng, pipeline.H264, 1, n)
			au = append(au, u)
			annexB = append(append(annexB, 0, 0, 0, 1), u...)
		}
		want := (&codecs.H264Payloader{}).Payload(max, annexB)
		got, err := layOut(t, Packetizer{Codec: pipeline.H264, MaxPayload: max}, au)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%v: %d payloads, pion makes %d", sizes, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("%v: payload %d differs", sizes, i)
			}
		}
	}
}

// TestFragmentHeaders: a fragment keeps the F bit and NRI (H.264) or the
// F bit, layer and temporal ids (H.265) of its NAL unit.
func TestFragmentHeaders(t *testing.T) {
	h264 := append([]byte{0x80 | 0x40 | H264IDR}, make([]byte, 3000)...)
	got, err := layOut(t, Packetizer{Codec: pipeline.H264, MaxPayload: 1200}, [][]byte{h264})
	if err != nil || len(got) != 3 {
		t.Fatalf("%d payloads, error %v", len(got), err)
	}
	if got[0][0] != 0xc0|H264FUA || got[0][1] != 0x80|H264IDR || got[2][1] != 0x40|H264IDR {
		t.Errorf("H.264 FU-A headers % x, % x", got[0][:2], got[2][:2])
	}
	h265 := append([]byte{H265CRA<<1 | 1, 0x2b}, make([]byte, 3000)...) // layer id 37, temporal id plus 1 = 3
	got, err = layOut(t, Packetizer{Codec: pipeline.H265, MaxPayload: 1200}, [][]byte{h265})
	if err != nil || len(got) != 3 {
		t.Fatalf("%d payloads, error %v", len(got), err)
	}
	if got[0][0] != H265FU<<1|1 || got[0][1] != 0x2b || got[0][2] != 0x80|H265CRA || got[2][2] != 0x40|H265CRA {
		t.Errorf("H.265 FU headers % x, % x", got[0][:3], got[2][:3])
	}
}

// TestAggregateHeaders: a STAP-A carries its units' highest NRI, and F
// when any has it (RFC 6184 §5.7.1).
func TestAggregateHeaders(t *testing.T) {
	cases := []struct {
		name  string
		heads []byte // each unit's first byte
		want  byte
	}{
		{"SPS and PPS", []byte{0x67, 0x68}, 0x60 | H264STAPA},
		{"highest NRI wins", []byte{0x06, 0x41, 0x21}, 0x40 | H264STAPA},
		{"all NRI 0", []byte{0x06, 0x09}, H264STAPA},
		{"F set on one", []byte{0x21, 0x80 | 0x06}, 0x80 | 0x20 | H264STAPA},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var au [][]byte
			for _, h := range tc.heads {
				au = append(au, []byte{h, 1, 2, 3})
			}
			got, err := layOut(t, Packetizer{Codec: pipeline.H264, MaxPayload: 1200, Aggregate: true}, au)
			if err != nil || len(got) != 1 {
				t.Fatalf("%d payloads, error %v", len(got), err)
			}
			if got[0][0] != tc.want {
				t.Errorf("STAP-A header %#x, want %#x", got[0][0], tc.want)
			}
		})
	}
}

func TestAppendRefuses(t *testing.T) {
	cases := []struct {
		name  string
		codec pipeline.Codec
		au    [][]byte
	}{
		{"no NAL units", pipeline.H264, nil},
		{"an empty NAL unit", pipeline.H264, [][]byte{{0x65, 1}, {}}},
		{"an H.265 unit shorter than its header", pipeline.H265, [][]byte{{0x26}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]Payload, 1)
			got, err := (Packetizer{Codec: tc.codec, MaxPayload: 1200, Aggregate: true}).Append(dst, tc.au)
			if err == nil || len(got) != 1 {
				t.Fatalf("error %v, %d payloads", err, len(got))
			}
		})
	}
}

// testGOP is one second of 720p30 at about 2 Mbit/s, shaped like an
// encoder's output: a keyframe with SPS, PPS, SEI and a 40 kB IDR slice,
// then 29 P-frames of one 7.3 kB slice each.
func testGOP() [][][]byte {
	rng := rand.New(rand.NewPCG(7, 20))
	gop := [][][]byte{{nalu(rng, pipeline.H264, H264SPS, 28), nalu(rng, pipeline.H264, H264PPS, 6),
		nalu(rng, pipeline.H264, H264SEI, 600), nalu(rng, pipeline.H264, H264IDR, 40000)}}
	for range 29 {
		gop = append(gop, [][]byte{nalu(rng, pipeline.H264, 1, 7300)})
	}
	return gop
}

func TestAppendNoAllocs(t *testing.T) {
	gop := testGOP()
	for _, z := range []Packetizer{{Codec: pipeline.H264, MaxPayload: testMax, Aggregate: true}, {Codec: pipeline.H264, MaxPayload: 1200}} {
		a := &arena{buf: make([]byte, 0, 64<<10)}
		allocs := testing.AllocsPerRun(20, func() {
			for _, au := range gop {
				if err := a.write(z, au); err != nil {
					t.Fatal(err)
				}
			}
		})
		if allocs != 0 {
			t.Errorf("aggregate %v: %.1f allocations per GOP, want 0", z.Aggregate, allocs)
		}
	}
}

// BenchmarkAppend lays out and writes one frame of a 720p 2 Mbit/s GOP, the cost
// below both the RTSP re-serve's packets and WHEP's ring.
func BenchmarkAppend(b *testing.B) {
	gop := testGOP()
	for _, bc := range []struct {
		name string
		z    Packetizer
	}{
		{"rtsp", Packetizer{Codec: pipeline.H264, MaxPayload: testMax, Aggregate: true}},
		{"whep", Packetizer{Codec: pipeline.H264, MaxPayload: 1200}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a := &arena{buf: make([]byte, 0, 64<<10)}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := a.write(bc.z, gop[i%len(gop)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(a.n)/float64(i), "packets/frame")
		})
	}
}

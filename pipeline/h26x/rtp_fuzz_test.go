package h26x

import (
	"bytes"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// FuzzAppend: whatever the access unit, every payload fits, and
// gortsplib's decoders give the NAL units back from the payloads (the
// marker on the last), with and without aggregation.
func FuzzAppend(f *testing.F) {
	f.Add(false, false, uint16(1200), []byte{0x65, 1, 2, 3}, uint16(3000), uint8(2))
	f.Add(true, true, uint16(1450), []byte{0x26, 1, 2}, uint16(40), uint8(5))
	f.Add(false, true, uint16(100), []byte{0x67, 0x42}, uint16(99), uint8(3))
	f.Fuzz(func(t *testing.T, hevc, aggregate bool, max uint16, seed []byte, size uint16, count uint8) {
		c := pipeline.H264
		if hevc {
			c = pipeline.H265
		}
		if max < 8 || len(seed) < HeaderLen(c) || count == 0 || count > 16 {
			t.Skip()
		}
		if hevc {
			seed[0] &= 0x7e // F bit and the top of layer id clear, as gortsplib's decoder expects
			seed[1] = seed[1]&0xf8 | 1
			if typ := Type(c, seed); typ >= H265AP {
				seed[0] = 1 << 1
			}
		} else {
			seed[0] &= 0x7f
			if typ := Type(c, seed); typ == 0 || typ >= H264STAPA {
				seed[0] = seed[0]&0xe0 | 1
			}
		}
		au := make([][]byte, count)
		for i := range au {
			u := make([]byte, int(size)%4096+len(seed))
			copy(u, seed)
			for j := len(seed); j < len(u); j++ {
				u[j] = byte(j*31 + i)
			}
			// No zero bytes: gortsplib's decoders take a unit that holds a
			// start code for an Annex-B stream sent over RTP by mistake.
			for j := HeaderLen(c); j < len(u); j++ {
				u[j] |= 1
			}
			au[i] = u
		}
		pays, err := layOut(t, Packetizer{Codec: c, MaxPayload: int(max), Aggregate: aggregate}, au)
		if err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		var dec interface {
			Decode(*rtp.Packet) ([][]byte, error)
		}
		if hevc {
			d := &rtph265.Decoder{MaxDONDiff: 0}
			if err := d.Init(); err != nil {
				t.Fatal(err)
			}
			dec = d
		} else {
			d := &rtph264.Decoder{PacketizationMode: 1}
			if err := d.Init(); err != nil {
				t.Fatal(err)
			}
			dec = d
		}
		for i, p := range pays {
			if len(p) > int(max) {
				t.Fatalf("payload %d: %d bytes > %d", i, len(p), max)
			}
			last := i == len(pays)-1
			got, err = dec.Decode(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: last, SequenceNumber: uint16(i)}, Payload: p})
		}
		if err != nil {
			t.Fatalf("gortsplib decoder: %v", err)
		}
		if len(got) != len(au) {
			t.Fatalf("%d NAL units back, want %d", len(got), len(au))
		}
		for i := range au {
			if !bytes.Equal(got[i], au[i]) {
				t.Fatalf("NAL unit %d differs", i)
			}
		}
	})
}

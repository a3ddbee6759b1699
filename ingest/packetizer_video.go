package ingest

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/pion/rtp"

	"diemcau/pipeline"
	"diemcau/pipeline/h26x"
)

// videoPacketizer turns H.264 (RFC 6184, packetization-mode 1) and H.265
// (RFC 7798) access units into RTP packets laid out as gortsplib's
// rtph264/rtph265 encoders do (h26x.Packetizer with aggregation), but
// without allocating per frame: packets, the pointer slice and one byte
// arena for the aggregated and fragmented payloads are reused. NAL units
// that fit in one packet are not copied at all.
type videoPacketizer struct {
	layout h26x.Packetizer
	pt     uint8
	ssrc   uint32
	seq    uint16
	params [][]byte // the track's VPS/SPS/PPS, sent before a keyframe that lacks them

	au    [][]byte
	pays  []h26x.Payload
	pkts  []rtp.Packet
	out   []*rtp.Packet
	arena []byte
}

func newVideoPacketizer(t *pipeline.Track, pt uint8, payloadMax int) (*videoPacketizer, error) {
	v := &videoPacketizer{layout: h26x.Packetizer{Codec: t.Codec, MaxPayload: payloadMax, Aggregate: true}, pt: pt}
	for _, ps := range [][]byte{t.VPS, t.SPS, t.PPS} {
		if len(ps) >= h26x.HeaderLen(t.Codec) {
			v.params = append(v.params, ps)
		}
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	v.ssrc = binary.BigEndian.Uint32(b[:4])
	v.seq = binary.BigEndian.Uint16(b[4:])
	return v, nil
}

func (v *videoPacketizer) packetize(f *pipeline.Frame, ts uint32) ([]*rtp.Packet, error) {
	au, size, err := v.accessUnit(f)
	if err != nil {
		return nil, err
	}
	// The arena holds the whole access unit, so taking payloads from it
	// never reallocates while earlier packets of the frame point into it.
	if need := size + v.layout.Overhead(size, len(au)); cap(v.arena) < need {
		v.arena = make([]byte, 0, need+need/4)
	}
	v.arena = v.arena[:0]
	if v.pays, err = v.layout.Append(v.pays[:0], au); err != nil {
		return nil, err
	}
	v.pkts = v.pkts[:0]
	for i := range v.pays {
		p := &v.pays[i]
		payload := p.Whole()
		if payload == nil {
			l := len(v.arena)
			v.arena = v.arena[:l+p.Len()]
			payload = v.arena[l:]
			p.Put(payload)
		}
		v.pkts = append(v.pkts, rtp.Packet{
			Header: rtp.Header{
				Version:        2,
				Marker:         i == len(v.pays)-1, // the end of the access unit
				PayloadType:    v.pt,
				SequenceNumber: v.seq,
				Timestamp:      ts,
				SSRC:           v.ssrc,
			},
			Payload: payload,
		})
		v.seq++
	}
	v.out = v.out[:0]
	for i := range v.pkts {
		v.out = append(v.out, &v.pkts[i])
	}
	return v.out, nil
}

// accessUnit returns the NAL units to send: the frame's, with the track's
// parameter sets first when a keyframe comes without them, so a decoder that
// joins at this keyframe can start. A picture that is a random access point
// counts as a keyframe even when the frame does not say so.
func (v *videoPacketizer) accessUnit(f *pipeline.Frame) ([][]byte, int, error) {
	if len(f.NALUs) == 0 {
		return nil, 0, fmt.Errorf("video frame without NAL units")
	}
	c := v.layout.Codec
	size, irap, hasSPS := 0, f.Key, false
	for _, n := range f.NALUs {
		if len(n) < h26x.HeaderLen(c) {
			return nil, 0, fmt.Errorf("NAL unit of %d bytes", len(n))
		}
		typ := h26x.Type(c, n)
		irap = irap || h26x.IsRandomAccess(c, typ)
		hasSPS = hasSPS || h26x.IsSPS(c, typ)
		size += len(n)
	}
	if !irap || hasSPS || len(v.params) == 0 {
		return f.NALUs, size, nil
	}
	v.au = append(append(v.au[:0], v.params...), f.NALUs...)
	for _, ps := range v.params {
		size += len(ps)
	}
	return v.au, size, nil
}

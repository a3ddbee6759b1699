package ingest

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// NAL unit types the video packetizer writes or looks for.
const (
	h264STAPA = 24
	h264FUA   = 28
	h264IDR   = 5
	h264SPS   = 7

	h265AP  = 48
	h265FU  = 49
	h265SPS = 33
)

// videoPacketizer splits H.264 (RFC 6184, packetization-mode 1) and H.265
// (RFC 7798) access units into RTP packets with the same layout as
// gortsplib's rtph264/rtph265 encoders (small NAL units aggregated, large
// ones fragmented), but without allocating per frame: packets, the pointer
// slice and one byte arena for the aggregated and fragmented payloads are
// reused. NAL units that fit in one packet are not copied at all.
type videoPacketizer struct {
	h265   bool
	hdrLen int // NAL unit header: 1 byte H.264, 2 bytes H.265
	pt     uint8
	max    int
	ssrc   uint32
	seq    uint16
	params [][]byte // the track's VPS/SPS/PPS, sent before a keyframe that lacks them

	ts    uint32
	au    [][]byte
	pkts  []rtp.Packet
	out   []*rtp.Packet
	arena []byte
}

func newVideoPacketizer(t *pipeline.Track, pt uint8, payloadMax int) (*videoPacketizer, error) {
	v := &videoPacketizer{h265: t.Codec == pipeline.H265, hdrLen: 1, pt: pt, max: payloadMax}
	if v.h265 {
		v.hdrLen = 2
	}
	for _, ps := range [][]byte{t.VPS, t.SPS, t.PPS} {
		if len(ps) >= v.hdrLen {
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

func (v *videoPacketizer) naluType(n []byte) byte {
	if v.h265 {
		return (n[0] >> 1) & 0x3f
	}
	return n[0] & 0x1f
}

func (v *videoPacketizer) isIRAP(typ byte) bool {
	if v.h265 {
		return typ >= 16 && typ <= 21
	}
	return typ == h264IDR
}

func (v *videoPacketizer) isSPS(typ byte) bool {
	if v.h265 {
		return typ == h265SPS
	}
	return typ == h264SPS
}

func (v *videoPacketizer) packetize(f *pipeline.Frame, ts uint32) ([]*rtp.Packet, error) {
	au, size, err := v.accessUnit(f)
	if err != nil {
		return nil, err
	}
	v.ts = ts
	v.reserve(size, len(au))
	v.pkts = v.pkts[:0]

	// Batch consecutive NAL units while they fit in one aggregation packet.
	first, aggLen := 0, v.hdrLen
	for i, n := range au {
		if i > first && aggLen+2+len(n) > v.max {
			v.writeBatch(au[first:i], false)
			first, aggLen = i, v.hdrLen
		}
		aggLen += 2 + len(n)
	}
	v.writeBatch(au[first:], true) // the marker ends the access unit

	v.out = v.out[:0]
	for i := range v.pkts {
		v.out = append(v.out, &v.pkts[i])
	}
	return v.out, nil
}

// accessUnit returns the NAL units to send: the frame's, with the track's
// parameter sets first when a keyframe comes without them, so a decoder that
// joins at this keyframe can start.
func (v *videoPacketizer) accessUnit(f *pipeline.Frame) ([][]byte, int, error) {
	if len(f.NALUs) == 0 {
		return nil, 0, fmt.Errorf("video frame without NAL units")
	}
	size, irap, hasSPS := 0, f.Key, false
	for _, n := range f.NALUs {
		if len(n) < v.hdrLen {
			return nil, 0, fmt.Errorf("NAL unit of %d bytes", len(n))
		}
		typ := v.naluType(n)
		irap = irap || v.isIRAP(typ)
		hasSPS = hasSPS || v.isSPS(typ)
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

// reserve makes the arena large enough for a whole access unit, so that
// taking payloads from it never reallocates mid-frame.
func (v *videoPacketizer) reserve(size, nalus int) {
	fuPackets := size/(v.max-v.hdrLen-1) + nalus
	need := size + 4*nalus + (v.hdrLen+1)*fuPackets + 8
	if cap(v.arena) < need {
		v.arena = make([]byte, 0, need+need/4)
	}
	v.arena = v.arena[:0]
}

func (v *videoPacketizer) take(n int) []byte {
	l := len(v.arena)
	v.arena = v.arena[:l+n]
	return v.arena[l : l+n]
}

func (v *videoPacketizer) emit(payload []byte, marker bool) {
	v.pkts = append(v.pkts, rtp.Packet{
		Header: rtp.Header{
			Version:        2,
			Marker:         marker,
			PayloadType:    v.pt,
			SequenceNumber: v.seq,
			Timestamp:      v.ts,
			SSRC:           v.ssrc,
		},
		Payload: payload,
	})
	v.seq++
}

func (v *videoPacketizer) writeBatch(nalus [][]byte, marker bool) {
	switch {
	case len(nalus) > 1:
		v.writeAggregated(nalus, marker)
	case len(nalus[0]) < v.max:
		v.emit(nalus[0], marker)
	default:
		v.writeFragmented(nalus[0], marker)
	}
}

func (v *videoPacketizer) writeAggregated(nalus [][]byte, marker bool) {
	size := v.hdrLen
	for _, n := range nalus {
		size += 2 + len(n)
	}
	p := v.take(size)
	pos := v.hdrLen
	layerID, temporalID := byte(0xff), byte(0xff)
	for _, n := range nalus {
		if v.h265 {
			// The AP header carries the lowest layer and temporal ids.
			layerID = min(layerID, (n[0]&0x01)<<5|(n[1]>>3)&0x1f)
			temporalID = min(temporalID, n[1]&0x07)
		}
		binary.BigEndian.PutUint16(p[pos:], uint16(len(n)))
		pos += 2
		pos += copy(p[pos:], n)
	}
	if v.h265 {
		p[0] = h265AP<<1 | layerID&0x20
		p[1] = (layerID&0x1f)<<3 | temporalID&0x07
	} else {
		p[0] = h264STAPA
	}
	v.emit(p, marker)
}

func (v *videoPacketizer) writeFragmented(n []byte, marker bool) {
	head := n[:v.hdrLen]
	body := n[v.hdrLen:]
	avail := v.max - v.hdrLen - 1
	for start := true; len(body) > 0; start = false {
		chunk := min(avail, len(body))
		last := chunk == len(body)
		p := v.take(v.hdrLen + 1 + chunk)
		var fu byte
		if start {
			fu |= 0x80
		}
		if last {
			fu |= 0x40
		}
		if v.h265 {
			p[0] = head[0]&0x81 | h265FU<<1
			p[1] = head[1]
			p[2] = fu | (head[0]>>1)&0x3f
		} else {
			p[0] = head[0]&0x60 | h264FUA
			p[1] = fu | head[0]&0x1f
		}
		copy(p[v.hdrLen+1:], body[:chunk])
		body = body[chunk:]
		v.emit(p, marker && last)
	}
}

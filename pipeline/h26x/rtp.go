package h26x

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"diemcau/pipeline"
)

// ErrEmptyAccessUnit is returned for an access unit without NAL units.
var ErrEmptyAccessUnit = errors.New("access unit without NAL units")

// Payload is one RTP packet's payload, described rather than built, so that
// the caller decides where its bytes go: a NAL unit sent alone can be used
// as it is (Whole), anything else is written into the caller's own memory
// (Put). It points into the access unit it was laid out from.
type Payload struct {
	// head is the FU indicator and header, or the aggregation packet's
	// header: up to 3 bytes, first in the low byte, their count in the top
	// one.
	head  uint32
	body  []byte   // a NAL unit sent alone, or one fragment's share of it
	units [][]byte // an aggregation packet's NAL units, each after its 16-bit size
}

func header(n int, b0, b1, b2 byte) uint32 {
	return uint32(n)<<24 | uint32(b2)<<16 | uint32(b1)<<8 | uint32(b0)
}

func (p *Payload) nhead() int { return int(p.head >> 24) }

// Len is the payload's size in bytes.
func (p *Payload) Len() int {
	n := p.nhead() + len(p.body)
	for _, u := range p.units {
		n += 2 + len(u)
	}
	return n
}

// Whole is the NAL unit itself when the payload is one NAL unit sent alone
// (a single NAL unit packet), nil otherwise.
func (p *Payload) Whole() []byte {
	if p.head != 0 || p.units != nil {
		return nil
	}
	return p.body
}

// Put writes the payload into dst, which must hold Len bytes, and returns
// how many it wrote.
func (p *Payload) Put(dst []byte) int {
	n := p.nhead()
	switch n {
	case 3:
		dst[2] = byte(p.head >> 16)
		fallthrough
	case 2:
		dst[1] = byte(p.head >> 8)
		fallthrough
	case 1:
		dst[0] = byte(p.head)
	}
	for _, u := range p.units {
		binary.BigEndian.PutUint16(dst[n:], uint16(len(u)))
		n += 2
		n += copy(dst[n:], u)
	}
	return n + copy(dst[n:], p.body)
}

// Packetizer lays out access units of one codec as RTP payloads: a NAL unit
// that fits goes alone, a larger one is fragmented (FU-A, FU), and with
// Aggregate consecutive small ones share an aggregation packet (STAP-A,
// AP). It holds no buffers: the payloads it describes point into the access
// unit until the caller writes them where its packets live (its own
// arena, a ring), so a frame costs no allocation here. What a packet is
// made of besides its payload (sequence number, SSRC, timestamp; the
// marker goes on an access unit's last) is the caller's business.
type Packetizer struct {
	// Codec is pipeline.H264 or pipeline.H265.
	Codec pipeline.Codec
	// MaxPayload bounds every payload, in bytes; it must leave room for a
	// fragment header and one byte.
	MaxPayload int
	// Aggregate lays packets out as gortsplib's rtph264 and rtph265
	// encoders do (what RTSP players are tested with): consecutive NAL
	// units share an aggregation packet while they fit, and a NAL unit
	// goes alone only when shorter than MaxPayload. Without it the layout
	// is pion's H264Payloader's (what browsers are tested with): every NAL
	// unit goes alone or fragmented, alone when it fits in MaxPayload.
	// Default false.
	Aggregate bool
}

// Append appends the payloads of access unit au to dst, in sending order,
// and returns the extended slice; a caller that reuses dst allocates
// nothing once it is large enough. A NAL unit shorter than its header is
// an error, and dst is returned unchanged then.
func (z Packetizer) Append(dst []Payload, au [][]byte) ([]Payload, error) {
	if len(au) == 0 {
		return dst, ErrEmptyAccessUnit
	}
	hdr := HeaderLen(z.Codec)
	for _, n := range au {
		if len(n) < hdr {
			return dst, fmt.Errorf("NAL unit of %d bytes", len(n))
		}
	}
	if !z.Aggregate {
		for _, n := range au {
			if len(n) <= z.MaxPayload {
				dst = append(dst, Payload{body: n})
			} else {
				dst = z.fragment(dst, n)
			}
		}
		return dst, nil
	}
	// Batch consecutive NAL units while they fit in one aggregation packet.
	first, size := 0, hdr
	for i, n := range au {
		if i > first && size+2+len(n) > z.MaxPayload {
			dst = z.batch(dst, au[first:i])
			first, size = i, hdr
		}
		size += 2 + len(n)
	}
	return z.batch(dst, au[first:]), nil
}

func (z Packetizer) batch(dst []Payload, nalus [][]byte) []Payload {
	switch {
	case len(nalus) > 1:
		return append(dst, z.aggregate(nalus))
	case len(nalus[0]) < z.MaxPayload:
		return append(dst, Payload{body: nalus[0]})
	}
	return z.fragment(dst, nalus[0])
}

func (z Packetizer) aggregate(nalus [][]byte) Payload {
	if z.Codec != pipeline.H265 {
		// The STAP-A header carries the highest NRI of its units, and F
		// when any has it (RFC 6184 §5.7.1): a receiver that drops by NRI
		// under load must not drop the SPS and PPS with it.
		var f, nri byte
		for _, n := range nalus {
			f |= n[0] & 0x80
			nri = max(nri, n[0]&0x60)
		}
		return Payload{head: header(1, f|nri|H264STAPA, 0, 0), units: nalus}
	}
	// The AP header carries the lowest layer and temporal ids of its units
	// (RFC 7798 §4.4.2).
	layerID, temporalID := byte(0xff), byte(0xff)
	for _, n := range nalus {
		layerID = min(layerID, (n[0]&0x01)<<5|(n[1]>>3)&0x1f)
		temporalID = min(temporalID, n[1]&0x07)
	}
	return Payload{head: header(2, H265AP<<1|layerID&0x20, (layerID&0x1f)<<3|temporalID&0x07, 0), units: nalus}
}

// fragment lays n out in fragmentation units. The indicator keeps the NAL
// unit's F bit and NRI (H.264), or its F bit, layer and temporal ids
// (H.265), as RFC 6184 §5.8 and RFC 7798 §4.4.3 ask.
func (z Packetizer) fragment(dst []Payload, n []byte) []Payload {
	hdr := HeaderLen(z.Codec)
	head, body := n[:hdr], n[hdr:]
	avail := z.MaxPayload - hdr - 1
	count := (len(body) + avail - 1) / avail
	at := len(dst)
	dst = slices.Grow(dst, count)[:at+count]
	for i := range count {
		chunk := min(avail, len(body))
		var fu byte
		if i == 0 {
			fu |= 0x80
		}
		if i == count-1 {
			fu |= 0x40
		}
		// Filled in place: a Payload is seven words, and this runs once
		// per packet.
		p := &dst[at+i]
		if z.Codec == pipeline.H265 {
			p.head = header(3, head[0]&0x81|H265FU<<1, head[1], fu|(head[0]>>1)&0x3f)
		} else {
			p.head = header(2, head[0]&0xe0|H264FUA, fu|head[0]&0x1f, 0)
		}
		p.body, p.units = body[:chunk], nil
		body = body[chunk:]
	}
	return dst
}

// Overhead bounds the bytes that a layout of an access unit of size bytes
// in nalus NAL units adds to them (fragment and aggregation headers,
// sizes), for a caller that reserves its memory before a frame so that no
// payload moves while the frame's packets are still referenced.
func (z Packetizer) Overhead(size, nalus int) int {
	hdr := HeaderLen(z.Codec)
	fragments := size/(z.MaxPayload-hdr-1) + nalus
	return 4*nalus + (hdr+1)*fragments + 8
}

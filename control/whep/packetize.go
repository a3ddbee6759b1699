package whep

import (
	"time"

	"diemcau/pipeline"
	"diemcau/pipeline/h26x"
)

// maxPayload keeps an SRTP packet (12 header + payload + 16 tag) inside
// 1280 bytes, the IPv6 minimum MTU, with room for TURN's overhead.
const maxPayload = 1200

// rtpTime converts a stream time to RTP clock ticks without overflowing
// for sessions of any length.
func rtpTime(d time.Duration, clock int) uint32 {
	sec := int64(d / time.Second)
	rem := int64(d % time.Second)
	return uint32(sec*int64(clock) + rem*int64(clock)/int64(time.Second))
}

// packetizeH264 writes one access unit's RTP packets into the ring,
// publishes them and returns how many it wrote. It runs once per frame for
// all viewers.
func packetizeH264(r *ring, f *pipeline.Frame, ts uint32) int {
	au := r.units[:0]
	// A viewer that starts at this keyframe has no other way to get the
	// parameter sets than in-band, so a keyframe always carries them.
	if h26x.NeedsParams(f) {
		for _, p := range [][]byte{f.Track.SPS, f.Track.PPS} {
			if len(p) > 0 {
				au = append(au, p)
			}
		}
	}
	for _, u := range f.NALUs {
		if len(u) == 0 || h26x.IsAUD(pipeline.H264, h26x.Type(pipeline.H264, u)) {
			continue // access unit delimiters mean nothing over RTP
		}
		au = append(au, u)
	}
	// Each NAL unit alone or in FU-A fragments, without aggregation: the
	// layout of pion's payloader, which browsers are tested with. Only an
	// access unit of nothing but delimiters fails, and it has no packet.
	layout := h26x.Packetizer{Codec: pipeline.H264, MaxPayload: maxPayload}
	pays, _ := layout.Append(r.payloads[:0], au)
	for i := range pays {
		p := &pays[i]
		p.Put(r.alloc(ts, i == 0 && f.Key, p.Len()).payload)
	}
	// The ring keeps copies; its scratch must not keep the frame alive.
	clear(au)
	clear(pays)
	r.units, r.payloads = au[:0], pays[:0]
	return r.publish(true)
}

// packetizeAudio writes and publishes one audio frame: Opus is one packet per frame
// (RFC 7587); G.711 is split on sample boundaries if it is long.
func packetizeAudio(r *ring, f *pipeline.Frame, ts uint32) int {
	data := f.Payload
	if len(data) == 0 {
		return 0
	}
	if f.Track == nil || f.Track.Codec == pipeline.Opus {
		r.add(ts, false, nil, data)
		return r.publish(false)
	}
	for len(data) > 0 {
		c := min(len(data), maxPayload)
		r.add(ts, false, nil, data[:c])
		ts += uint32(c) // one byte per sample in G.711
		data = data[c:]
	}
	return r.publish(false)
}

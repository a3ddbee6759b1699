package whep

import (
	"time"

	"diemcau/pipeline"
)

// maxPayload keeps an SRTP packet (12 header + payload + 16 tag) inside
// 1280 bytes, the IPv6 minimum MTU, with room for TURN's overhead.
const maxPayload = 1200

// H.264 NAL unit types this file cares about.
const (
	nalAUD = 9
	nalFUA = 28
)

// rtpTime converts a stream time to RTP clock ticks without overflowing
// for sessions of any length.
func rtpTime(d time.Duration, clock int) uint32 {
	sec := int64(d / time.Second)
	rem := int64(d % time.Second)
	return uint32(sec*int64(clock) + rem*int64(clock)/int64(time.Second))
}

// packetizeH264 splits one access unit into RTP packets (RFC 6184, single
// NAL unit and FU-A) in the ring, publishes them and returns how many it
// wrote. It runs once per frame for all viewers.
func packetizeH264(r *ring, f *pipeline.Frame, ts uint32) int {
	first := true
	emit := func(nalu []byte) {
		if len(nalu) == 0 {
			return
		}
		if len(nalu) <= maxPayload {
			r.add(ts, first && f.Key, nil, nalu)
			first = false
			return
		}
		indicator := nalu[0]&0xe0 | nalFUA
		typ := nalu[0] & 0x1f
		data := nalu[1:]
		for i := 0; len(data) > 0; i++ {
			n := min(len(data), maxPayload-2)
			fu := typ
			if i == 0 {
				fu |= 0x80
			}
			if n == len(data) {
				fu |= 0x40
			}
			r.add(ts, first && f.Key, []byte{indicator, fu}, data[:n])
			first = false
			data = data[n:]
		}
	}
	// A viewer that starts at this keyframe has no other way to get the
	// parameter sets than in-band, so a keyframe always carries them.
	if pipeline.NeedsParams(f) {
		emit(f.Track.SPS)
		emit(f.Track.PPS)
	}
	for _, u := range f.NALUs {
		if len(u) > 0 && u[0]&0x1f == nalAUD {
			continue // access unit delimiters mean nothing over RTP
		}
		emit(u)
	}
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

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

// h264Layout is how H.264 goes to WebRTC peers, viewers and WHIP servers
// alike: each NAL unit alone or in FU-A fragments, without aggregation,
// the layout of pion's payloader, which browsers are tested with.
var h264Layout = h26x.Packetizer{Codec: pipeline.H264, MaxPayload: maxPayload}

// h264Payloads lays frame f out as RTP payloads, appended to pays; units is
// scratch for its NAL unit list. A keyframe always carries the parameter
// sets: a peer that starts at it has no other way to get them. Access unit
// delimiters mean nothing over RTP and are left out. Both slices come back
// for reuse, cleared of the frame's memory once the caller is done (see
// releaseH264); only a frame of nothing but delimiters has no payload.
func h264Payloads(units [][]byte, pays []h26x.Payload, f *pipeline.Frame) ([][]byte, []h26x.Payload) {
	units = units[:0]
	if h26x.NeedsParams(f) {
		for _, p := range [][]byte{f.Track.SPS, f.Track.PPS} {
			if len(p) > 0 {
				units = append(units, p)
			}
		}
	}
	for _, u := range f.NALUs {
		if len(u) == 0 || h26x.IsAUD(pipeline.H264, h26x.Type(pipeline.H264, u)) {
			continue
		}
		units = append(units, u)
	}
	pays, _ = h264Layout.Append(pays[:0], units)
	return units, pays
}

// releaseH264 clears h264Payloads' scratch so that it does not keep the
// frame alive, and returns it empty for the next frame.
func releaseH264(units [][]byte, pays []h26x.Payload) ([][]byte, []h26x.Payload) {
	clear(units)
	clear(pays)
	return units[:0], pays[:0]
}

// packetizeH264 writes one access unit's RTP packets into the ring,
// publishes them and returns how many it wrote. It runs once per frame for
// all viewers.
func packetizeH264(r *ring, f *pipeline.Frame, ts uint32) int {
	var pays []h26x.Payload
	r.units, pays = h264Payloads(r.units, r.payloads, f)
	for i := range pays {
		p := &pays[i]
		p.Put(r.alloc(ts, i == 0 && f.Key, p.Len()).payload)
	}
	// The ring keeps copies.
	r.units, r.payloads = releaseH264(r.units, pays)
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

package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"diemcau/ingest/avsync"
)

// recording holds what the viewer received.
type recording struct {
	mu     sync.Mutex
	tracks []*rtpTrack
}

// rtpTrack is one received track: its packets and its sender reports.
type rtpTrack struct {
	participant string
	kind        webrtc.RTPCodecType
	mime        string
	clockRate   uint32
	channels    uint16
	ssrc        uint32

	mu          sync.Mutex
	pkts        []*rtp.Packet
	srs         []senderReport
	first, last time.Time // arrivals
}

// senderReport maps an RTP time to the sender's wall clock.
type senderReport struct {
	ntp time.Duration
	rtp uint32
}

func (r *recording) track(participant string, kind webrtc.RTPCodecType, mime string, rate uint32, channels uint16, ssrc uint32) *rtpTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &rtpTrack{participant: participant, kind: kind, mime: mime, clockRate: rate, channels: channels, ssrc: ssrc}
	r.tracks = append(r.tracks, t)
	return t
}

func (r *recording) add(t *rtpTrack, p *rtp.Packet, at time.Time) {
	t.mu.Lock()
	t.pkts = append(t.pkts, p)
	if t.first.IsZero() {
		t.first = at
	}
	t.last = at
	t.mu.Unlock()
}

func (t *rtpTrack) addSR(ntp time.Duration, rtpTime uint32) {
	t.mu.Lock()
	t.srs = append(t.srs, senderReport{ntp: ntp, rtp: rtpTime})
	t.mu.Unlock()
}

// write puts the tracks into one fragmented MP4, each on its last sender
// report's clock (the sender's wall clock, as a browser lines tracks up).
// It names the clock used per track; each track's figures go to report.
// A track without a sender report cannot be lined up: it is an error.
func (r *recording) write(file string, report func(t *rtpTrack, samples int)) (string, error) {
	r.mu.Lock()
	tracks := slices.Clone(r.tracks)
	r.mu.Unlock()
	var media []*avsync.MuxTrack
	var clocks []string
	var errs []error
	for _, t := range tracks {
		t.mu.Lock()
		pkts := avsync.InOrder(t.pkts, func(p *rtp.Packet) uint16 { return p.SequenceNumber })
		srs := slices.Clone(t.srs)
		t.mu.Unlock()
		var m *avsync.MuxTrack
		var err error
		switch {
		case len(pkts) == 0:
		case len(srs) == 0:
			err = fmt.Errorf("%s %s: no sender report", t.participant, t.kind)
		default:
			sr := srs[len(srs)-1]
			at := avsync.RTPClock(sr.ntp, sr.rtp, t.clockRate)
			switch strings.ToLower(t.mime) {
			case strings.ToLower(webrtc.MimeTypeOpus):
				m = &avsync.MuxTrack{Codec: &mp4.CodecOpus{ChannelCount: 2}, TimeScale: 48000}
				for _, p := range pkts {
					if isProbe(p) {
						continue
					}
					m.At = append(m.At, at(p.Timestamp))
					m.Samples = append(m.Samples, &fmp4.Sample{Payload: p.Payload})
				}
			case strings.ToLower(webrtc.MimeTypeH264):
				m = depacketizeH264(pkts, at)
			default:
				err = fmt.Errorf("%s %s: codec %s, want H.264 or Opus", t.participant, t.kind, t.mime)
			}
		}
		n := 0
		if m != nil {
			n = len(m.Samples)
		}
		report(t, n)
		if err != nil {
			errs = append(errs, err)
		}
		if n > 0 {
			media = append(media, m)
			clocks = append(clocks, t.kind.String())
		}
	}
	if len(media) == 0 {
		errs = append(errs, errors.New("no decodable media"))
	}
	if err := errors.Join(errs...); err != nil {
		return strings.Join(clocks, ", "), err
	}
	return strings.Join(clocks, " rtcp, ") + " rtcp", avsync.WriteMP4(file, media)
}

// depacketizeH264 turns RTP packets into access units (a marker bit ends
// one); it starts at the first IDR with parameter sets, and drops a unit
// that lost a packet, as a decoder would.
func depacketizeH264(pkts []*rtp.Packet, at func(uint32) time.Duration) *avsync.MuxTrack {
	var m *avsync.MuxTrack
	var annexB []byte
	var h codecs.H264Packet // keeps a fragmented unit across packets
	broken := false
	for i, p := range pkts {
		if i > 0 && p.SequenceNumber != pkts[i-1].SequenceNumber+1 {
			broken, h = true, codecs.H264Packet{}
		}
		if isProbe(p) {
			continue
		}
		b, err := h.Unmarshal(p.Payload)
		if err != nil {
			broken, h = true, codecs.H264Packet{}
		}
		annexB = append(annexB, b...)
		if !p.Marker {
			continue
		}
		frame, lost := annexB, broken
		annexB, broken = nil, false
		var au h264.AnnexB
		if lost || au.Unmarshal(frame) != nil {
			continue
		}
		m = avsync.AppendH264(m, au, at(p.Timestamp))
	}
	return m
}

// isProbe tells LiveKit's bandwidth probes: packets with the padding bit
// and a payload of zeros (no NAL unit starts with a zero byte) that take
// sequence numbers of the track's own, between its frames.
func isProbe(p *rtp.Packet) bool {
	return len(p.Payload) == 0 || (p.Padding && p.Payload[0] == 0)
}

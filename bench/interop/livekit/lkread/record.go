package main

import (
	"errors"
	"fmt"
	"os"
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

// muxTrack is one track ready for the MP4: samples with their times.
type muxTrack struct {
	codec     mp4.Codec
	timeScale uint32
	at        []time.Duration // per sample, on the shared timeline
	samples   []*fmp4.Sample
}

// write puts the tracks into one fragmented MP4, each on its last sender
// report's clock (the sender's wall clock, as a browser lines tracks up).
// It names the clock used per track; each track's figures go to report.
// A track without a sender report cannot be lined up: it is an error.
func (r *recording) write(file string, report func(t *rtpTrack, samples int)) (string, error) {
	r.mu.Lock()
	tracks := slices.Clone(r.tracks)
	r.mu.Unlock()
	var media []*muxTrack
	var clocks []string
	var errs []error
	for _, t := range tracks {
		t.mu.Lock()
		pkts, srs := inOrder(t.pkts), slices.Clone(t.srs)
		t.mu.Unlock()
		var m *muxTrack
		var err error
		switch {
		case len(pkts) == 0:
		case len(srs) == 0:
			err = fmt.Errorf("%s %s: no sender report", t.participant, t.kind)
		default:
			sr, rate := srs[len(srs)-1], int64(t.clockRate)
			at := func(ts uint32) time.Duration {
				return sr.ntp + time.Duration(int64(int32(ts-sr.rtp))*int64(time.Second)/rate)
			}
			switch strings.ToLower(t.mime) {
			case strings.ToLower(webrtc.MimeTypeOpus):
				m = &muxTrack{codec: &mp4.CodecOpus{ChannelCount: 2}, timeScale: 48000}
				for _, p := range pkts {
					if isProbe(p) {
						continue
					}
					m.at = append(m.at, at(p.Timestamp))
					m.samples = append(m.samples, &fmp4.Sample{Payload: p.Payload})
				}
			case strings.ToLower(webrtc.MimeTypeH264):
				m = depacketizeH264(pkts, at)
			default:
				err = fmt.Errorf("%s %s: codec %s, want H.264 or Opus", t.participant, t.kind, t.mime)
			}
		}
		n := 0
		if m != nil {
			n = len(m.samples)
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
	return strings.Join(clocks, " rtcp, ") + " rtcp", writeMP4(file, media)
}

// depacketizeH264 turns RTP packets into access units (a marker bit ends
// one); it starts at the first IDR with parameter sets, and drops a unit
// that lost a packet, as a decoder would.
func depacketizeH264(pkts []*rtp.Packet, at func(uint32) time.Duration) *muxTrack {
	var m *muxTrack
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
		if m == nil {
			sps, pps := paramSets(au)
			if sps == nil || pps == nil || !h264.IsRandomAccess(au) {
				continue
			}
			m = &muxTrack{codec: &mp4.CodecH264{SPS: sps, PPS: pps}, timeScale: 90000}
		}
		var s fmp4.Sample
		if err := s.FillH264(0, au); err != nil {
			continue
		}
		m.at = append(m.at, at(p.Timestamp))
		m.samples = append(m.samples, &s)
	}
	return m
}

// isProbe tells LiveKit's bandwidth probes: packets with the padding bit
// and a payload of zeros (no NAL unit starts with a zero byte) that take
// sequence numbers of the track's own, between its frames.
func isProbe(p *rtp.Packet) bool {
	return len(p.Payload) == 0 || (p.Padding && p.Payload[0] == 0)
}

func paramSets(au [][]byte) (sps, pps []byte) {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		}
	}
	return sps, pps
}

// writeMP4 writes the tracks as one init and one fragment: each track's
// base time is its first sample's time from the earliest track's start,
// and each sample lasts until the next one.
func writeMP4(file string, tracks []*muxTrack) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	origin := tracks[0].at[0]
	for _, t := range tracks {
		origin = min(origin, t.at[0])
	}
	init := fmp4.Init{}
	part := fmp4.Part{SequenceNumber: 1}
	for i, t := range tracks {
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{ID: i + 1, TimeScale: t.timeScale, Codec: t.codec})
		ticks := func(d time.Duration) int64 { return int64(d-origin) * int64(t.timeScale) / int64(time.Second) }
		for j, s := range t.samples {
			next := ticks(t.at[j]) + int64(t.timeScale)/50 // the last sample: 20 ms
			if j+1 < len(t.samples) {
				next = ticks(t.at[j+1])
			}
			s.Duration = uint32(max(1, next-ticks(t.at[j])))
		}
		part.Tracks = append(part.Tracks, &fmp4.PartTrack{ID: i + 1, BaseTime: uint64(max(0, ticks(t.at[0]))), Samples: t.samples})
	}
	if err := init.Marshal(f); err != nil {
		return fmt.Errorf("mp4: %w", err)
	}
	if err := part.Marshal(f); err != nil {
		return fmt.Errorf("mp4: %w", err)
	}
	return f.Close()
}

// inOrder sorts packets by sequence number (a retransmission comes late)
// and drops duplicates.
func inOrder(pkts []*rtp.Packet) []*rtp.Packet {
	type seqd struct {
		ext int64
		p   *rtp.Packet
	}
	out := make([]seqd, 0, len(pkts))
	var ext int64
	for i, p := range pkts {
		if i == 0 {
			ext = int64(p.SequenceNumber)
		} else {
			ext += int64(int16(p.SequenceNumber - pkts[i-1].SequenceNumber))
		}
		out = append(out, seqd{ext, p})
	}
	slices.SortStableFunc(out, func(a, b seqd) int { return int(a.ext - b.ext) })
	res := make([]*rtp.Packet, 0, len(out))
	for i, s := range out {
		if i > 0 && s.ext == out[i-1].ext {
			continue
		}
		res = append(res, s.p)
	}
	return res
}

package avsync

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"diemcau/ingest"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// recording holds what a WHEP viewer received.
type recording struct {
	mu     sync.Mutex
	tracks []*rtpTrack
	first  time.Time // arrival of the first media packet
}

// rtpTrack is one received track: its packets and its sender reports.
type rtpTrack struct {
	kind      webrtc.RTPCodecType
	mime      string
	clockRate uint32
	ssrcID    uint32

	mu   sync.Mutex
	pkts []receivedPacket
	srs  []senderReport
}

type receivedPacket struct {
	pkt     *rtp.Packet
	arrival time.Time
}

// senderReport maps an RTP time to the sender's wall clock.
type senderReport struct {
	ntp time.Duration
	rtp uint32
}

func (r *recording) track(kind webrtc.RTPCodecType, mime string, clockRate uint32, ssrc uint32) *rtpTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &rtpTrack{kind: kind, mime: mime, clockRate: clockRate, ssrcID: ssrc}
	r.tracks = append(r.tracks, t)
	return t
}

func (r *recording) add(t *rtpTrack, p *rtp.Packet, at time.Time) {
	r.mu.Lock()
	if r.first.IsZero() {
		r.first = at
	}
	r.mu.Unlock()
	t.mu.Lock()
	t.pkts = append(t.pkts, receivedPacket{pkt: p, arrival: at})
	t.mu.Unlock()
}

func (r *recording) started() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}

func (t *rtpTrack) ssrc() uint32 { return t.ssrcID }

func (t *rtpTrack) addSR(ntp time.Duration, rtpTime uint32) {
	t.mu.Lock()
	t.srs = append(t.srs, senderReport{ntp: ntp, rtp: rtpTime})
	t.mu.Unlock()
}

// clock maps the track's RTP times to one timeline shared by the tracks:
// the sender's wall clock of the last sender report (as a browser does,
// which aligns tracks by their reports), or without one the arrival of the
// track's first packet. The second result names the clock used.
func (t *rtpTrack) clock() (func(uint32) time.Duration, string) {
	rate := int64(t.clockRate)
	if n := len(t.srs); n > 0 {
		sr := t.srs[n-1]
		return func(ts uint32) time.Duration {
			return sr.ntp + time.Duration(int64(int32(ts-sr.rtp))*int64(time.Second)/rate)
		}, "rtcp"
	}
	// Both tracks' arrivals, on the Unix clock.
	p0 := t.pkts[0]
	base := time.Duration(p0.arrival.UnixNano()) + 2208988800*time.Second // to the NTP era
	return func(ts uint32) time.Duration {
		return base + time.Duration(int64(int32(ts-p0.pkt.Timestamp))*int64(time.Second)/rate)
	}, "arrival"
}

// write puts the received tracks into a fragmented MP4 on one timeline and
// returns the clock used ("rtcp", "arrival", or both named per track).
func (r *recording) write(file string) (string, error) {
	r.mu.Lock()
	tracks := r.tracks
	r.mu.Unlock()
	var media []*muxTrack
	var clocks []string
	for _, t := range tracks {
		t.mu.Lock()
		pkts, srs := t.pkts, t.srs
		t.mu.Unlock()
		if len(pkts) == 0 {
			continue
		}
		tc := &rtpTrack{kind: t.kind, mime: t.mime, clockRate: t.clockRate, pkts: inOrder(pkts), srs: srs}
		at, name := tc.clock()
		m, err := depacketize(tc, at)
		if err != nil {
			return "", err
		}
		if m != nil {
			media = append(media, m)
			clocks = append(clocks, t.kind.String()+" "+name)
		}
	}
	if len(media) == 0 {
		return "", fmt.Errorf("%w: whep: no decodable media (want H.264 and Opus)", ErrOpen)
	}
	return strings.Join(clocks, ", "), writeMP4(file, media)
}

// muxTrack is one track ready for the MP4: samples with their times.
type muxTrack struct {
	codec     mp4.Codec
	timeScale uint32
	at        []time.Duration // per sample, on the shared timeline
	samples   []*fmp4.Sample
}

// depacketize turns a track's packets into MP4 samples; video starts at
// its first IDR with parameter sets. Other codecs are skipped (nil).
func depacketize(t *rtpTrack, at func(uint32) time.Duration) (*muxTrack, error) {
	switch strings.ToLower(t.mime) {
	case strings.ToLower(webrtc.MimeTypeOpus):
		m := &muxTrack{codec: &mp4.CodecOpus{ChannelCount: 2}, timeScale: 48000}
		for _, p := range t.pkts {
			m.at = append(m.at, at(p.pkt.Timestamp))
			m.samples = append(m.samples, &fmp4.Sample{Payload: p.pkt.Payload})
		}
		return m, nil
	case strings.ToLower(webrtc.MimeTypeH264):
		return depacketizeH264(t, at)
	}
	return nil, nil
}

func depacketizeH264(t *rtpTrack, at func(uint32) time.Duration) (*muxTrack, error) {
	dec := &rtph264.Decoder{PacketizationMode: 1}
	if err := dec.Init(); err != nil {
		return nil, err
	}
	var m *muxTrack
	for _, p := range t.pkts {
		au, err := dec.Decode(p.pkt)
		if err != nil {
			if errors.Is(err, rtph264.ErrMorePacketsNeeded) || errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) {
				continue
			}
			continue // a frame with a packet missing: dropped, as a decoder would
		}
		if m == nil {
			_, in := ingest.SplitH264(slices.Clone(au)) // the sample keeps them in-band
			if in.SPS == nil || in.PPS == nil || !h264.IsRandomAccess(au) {
				continue
			}
			m = &muxTrack{codec: &mp4.CodecH264{SPS: in.SPS, PPS: in.PPS}, timeScale: 90000}
		}
		var s fmp4.Sample
		if err := s.FillH264(0, au); err != nil {
			continue
		}
		m.at = append(m.at, at(p.pkt.Timestamp))
		m.samples = append(m.samples, &s)
	}
	return m, nil
}

// writeMP4 writes the tracks as one init and one fragment: each track's
// base time is its first sample's time from the earliest track's start,
// and each sample lasts until the next one (a hole in the sound stays a
// hole in its timestamps).
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
		return fmt.Errorf("whep recording: %w", err)
	}
	if err := part.Marshal(f); err != nil {
		return fmt.Errorf("whep recording: %w", err)
	}
	return f.Close()
}

// inOrder sorts packets by sequence number (a retransmitted packet comes
// late) and drops duplicates.
func inOrder(pkts []receivedPacket) []receivedPacket {
	type seqd struct {
		ext int64
		p   receivedPacket
	}
	out := make([]seqd, 0, len(pkts))
	var ext int64
	for i, p := range pkts {
		if i == 0 {
			ext = int64(p.pkt.SequenceNumber)
		} else {
			ext += int64(int16(p.pkt.SequenceNumber - pkts[i-1].pkt.SequenceNumber))
		}
		out = append(out, seqd{ext, p})
	}
	slices.SortStableFunc(out, func(a, b seqd) int { return int(a.ext - b.ext) })
	res := make([]receivedPacket, 0, len(out))
	for i, s := range out {
		if i > 0 && s.ext == out[i-1].ext {
			continue
		}
		res = append(res, s.p)
	}
	return res
}

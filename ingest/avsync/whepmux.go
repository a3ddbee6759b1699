package avsync

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
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
	if n := len(t.srs); n > 0 {
		sr := t.srs[n-1]
		return RTPClock(sr.ntp, sr.rtp, t.clockRate), "rtcp"
	}
	// Both tracks' arrivals, on the Unix clock.
	p0 := t.pkts[0]
	base := time.Duration(p0.arrival.UnixNano()) + 2208988800*time.Second // to the NTP era
	return RTPClock(base, p0.pkt.Timestamp, t.clockRate), "arrival"
}

// write puts the received tracks into a fragmented MP4 on one timeline and
// returns the clock used ("rtcp", "arrival", or both named per track).
func (r *recording) write(file string) (string, error) {
	r.mu.Lock()
	tracks := r.tracks
	r.mu.Unlock()
	var media []*MuxTrack
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
	return strings.Join(clocks, ", "), WriteMP4(file, media)
}

// depacketize turns a track's packets into MP4 samples; video starts at
// its first IDR with parameter sets. Other codecs are skipped (nil).
func depacketize(t *rtpTrack, at func(uint32) time.Duration) (*MuxTrack, error) {
	switch strings.ToLower(t.mime) {
	case strings.ToLower(webrtc.MimeTypeOpus):
		m := &MuxTrack{Codec: &mp4.CodecOpus{ChannelCount: 2}, TimeScale: 48000}
		for _, p := range t.pkts {
			m.At = append(m.At, at(p.pkt.Timestamp))
			m.Samples = append(m.Samples, &fmp4.Sample{Payload: p.pkt.Payload})
		}
		return m, nil
	case strings.ToLower(webrtc.MimeTypeH264):
		return depacketizeH264(t, at)
	}
	return nil, nil
}

func depacketizeH264(t *rtpTrack, at func(uint32) time.Duration) (*MuxTrack, error) {
	dec := &rtph264.Decoder{PacketizationMode: 1}
	if err := dec.Init(); err != nil {
		return nil, err
	}
	var m *MuxTrack
	for _, p := range t.pkts {
		au, err := dec.Decode(p.pkt)
		if err != nil {
			if errors.Is(err, rtph264.ErrMorePacketsNeeded) || errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) {
				continue
			}
			continue // a frame with a packet missing: dropped, as a decoder would
		}
		m = AppendH264(m, au, at(p.pkt.Timestamp))
	}
	return m, nil
}

// inOrder puts a track's packets in order, without duplicates.
func inOrder(pkts []receivedPacket) []receivedPacket {
	return InOrder(pkts, func(p receivedPacket) uint16 { return p.pkt.SequenceNumber })
}

package ingest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// WHIPMedia is what a WHIP publisher's answer settled on: H.264 video
// (packetization-mode 1) and, when offered, Opus audio.
type WHIPMedia struct {
	VideoPT  uint8
	HasAudio bool
	AudioPT  uint8
}

// Reorder windows: how long a packet waits for the ones before it (a
// retransmission after a NACK takes a round trip and the NACK interval).
// Video waits longer than audio: a lost video packet breaks a picture and
// every one after it until a keyframe, a lost audio packet 20 ms of sound,
// which Opus conceals.
const (
	videoReorderWindow = 300 * time.Millisecond
	audioReorderWindow = 80 * time.Millisecond
)

// WHIPPublisher is one WebRTC publisher of a WHIPSource: the control plane's
// WHIP endpoint hands it every RTP packet and RTCP sender report, and it
// puts the packets in order (the jitter buffer), times them on the
// publisher's sender reports and writes frames to the source's stream.
type WHIPPublisher struct {
	src      *WHIPSource
	remote   string
	end      func(reason string)
	keyframe func()
	dep      *Depacketizer
	video    *whipTrack
	audio    *whipTrack

	lastPacket atomic.Int64
	closed     atomic.Bool
	online     atomic.Bool

	mu          sync.Mutex // one packet at a time: tracks come on their own goroutines
	start       time.Time  // first packet of any track
	lastKeyReq  time.Time
	pictures    bool // a picture has reached the stream
	errReported uint64
	stats       NetStats
	rate        rateWindow
	path        pathLoss // the wire's loss, before retransmissions (whip_pathloss.go)
}

type whipTrack struct {
	media     *description.Media
	clockRate int64
	video     bool
	reorder   reorderBuffer
	clock     srClock
	skipTS    uint32 // video: the timestamp of a picture broken by a loss
	skipping  bool
	jitter    interarrival
}

// interarrival is the RTP interarrival jitter of RFC 3550 (6.4.1), in ms.
type interarrival struct {
	have    bool
	ts      uint32
	arrival time.Time
	j       float64
}

func (a *interarrival) add(ts uint32, arrival time.Time, rate int64) float64 {
	if a.have && ts != a.ts {
		transit := arrival.Sub(a.arrival).Seconds() - float64(int32(ts-a.ts))/float64(rate)
		if transit < 0 {
			transit = -transit
		}
		a.j += (transit*1000 - a.j) / 16
	}
	if !a.have || ts != a.ts {
		a.have, a.ts, a.arrival = true, ts, arrival
	}
	return a.j
}

func newWHIPPublisher(src *WHIPSource, remote string, m WHIPMedia, end func(string), keyframe func()) (*WHIPPublisher, error) {
	vm := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: m.VideoPT, PacketizationMode: 1}}}
	desc := &description.Session{Medias: []*description.Media{vm}}
	var am *description.Media
	if m.HasAudio {
		am = &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{&format.Opus{PayloadTyp: m.AudioPT, ChannelCount: 2}}}
		desc.Medias = append(desc.Medias, am)
	}
	dep, err := NewDepacketizer(src.id, desc)
	if err != nil {
		return nil, err
	}
	if end == nil || keyframe == nil {
		return nil, fmt.Errorf("whip publisher: end and keyframe are required")
	}
	p := &WHIPPublisher{src: src, remote: remote, end: end, keyframe: keyframe, dep: dep,
		video: &whipTrack{media: vm, clockRate: 90000, video: true, reorder: newReorderBuffer(videoReorderWindow)}}
	if am != nil {
		p.audio = &whipTrack{media: am, clockRate: 48000, reorder: newReorderBuffer(audioReorderWindow)}
	}
	p.lastPacket.Store(time.Now().UnixNano())
	return p, nil
}

func (p *WHIPPublisher) track(video bool) *whipTrack {
	if video {
		return p.video
	}
	return p.audio
}

// Packet takes one RTP packet of the video (video true) or audio track, as
// it arrived (after SRTP). Packets may come late or twice; the publisher
// orders them.
func (p *WHIPPublisher) Packet(video bool, pkt *rtp.Packet, arrival time.Time) {
	t := p.track(video)
	if t == nil || p.closed.Load() {
		return
	}
	p.lastPacket.Store(arrival.UnixNano())
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.start.IsZero() {
		p.start = arrival
	}
	p.stats.PacketsReceived++
	p.rate.add(arrival, len(pkt.Payload))
	p.path.add(video, pkt.SequenceNumber)
	if video {
		p.stats.JitterMS = roundTo(t.jitter.add(pkt.Timestamp, arrival, t.clockRate), 1)
	}
	out, lost := t.reorder.push(pkt, arrival)
	p.deliver(t, out, lost)
}

// Tick releases packets whose wait is over when none arrive to push them
// (the source's watch calls it; see WatchedPublisher).
func (p *WHIPPublisher) Tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range []*whipTrack{p.video, p.audio} {
		if t != nil {
			out, lost := t.reorder.flush(now)
			p.deliver(t, out, lost)
		}
	}
	p.rate.roll(now)
	p.path.roll(now)
	// Until the first picture, keep asking: the PLI sent at the start may
	// have been lost, and a publisher's next keyframe may be seconds away.
	if !p.pictures && p.stats.PacketsReceived > 0 && now.Sub(p.lastKeyReq) >= keyRequestGap {
		p.lastKeyReq = now
		go p.keyframe()
	}
}

// keyRequestGap spaces the keyframe requests made while waiting for the
// first picture and after losses.
const keyRequestGap = 500 * time.Millisecond

// deliver decodes packets in order. lost counts the packets given up on
// before them: a video picture that lost a packet is dropped whole (its
// decoder would show a smear) and a keyframe asked for. Called with p.mu.
func (p *WHIPPublisher) deliver(t *whipTrack, pkts []reorderedPacket, lost int) {
	for i, rp := range pkts {
		if i == 0 && lost > 0 {
			p.stats.PacketsLost += uint64(lost)
			if t.video {
				p.stats.PicturesDropped++
				t.skipping, t.skipTS = true, rp.pkt.Timestamp
				p.requestKeyframe()
			}
		}
		if t.skipping {
			if rp.pkt.Timestamp == t.skipTS {
				continue
			}
			t.skipping = false
		}
		pts := t.clock.pts(rp.pkt.Timestamp, rp.arrival, p.start, t.clockRate)
		frames := p.dep.HandlePacket(t.media, rp.pkt, pts, time.Time{})
		p.write(frames)
	}
}

func (p *WHIPPublisher) write(frames []*pipeline.Frame) {
	if len(frames) == 0 {
		return
	}
	src := p.src
	if p.dep.TracksChanged() {
		tracks := p.dep.Tracks()
		src.stream.SetTracks(tracks)
		src.tracker.SetTracks(tracks)
	}
	if !p.online.Load() {
		p.online.Store(true)
		src.tracker.SetState(StateOnline, "")
		src.log.Info("publisher online", "remote", p.remote, "tracks", describeTracks(p.dep.Tracks()))
	}
	for _, f := range frames {
		if f.Track != nil && f.Track.Kind() == pipeline.Video {
			p.pictures = true
		}
		src.clock.shift(f)
		src.stream.Write(f)
		src.tracker.Frame(f)
	}
}

func (p *WHIPPublisher) requestKeyframe() {
	now := time.Now()
	if now.Sub(p.lastKeyReq) < keyRequestGap {
		return
	}
	p.lastKeyReq = now
	p.stats.KeyframeRequests++
	go p.keyframe() // the peer connection writes RTCP; never under p.mu
}

// SenderReport takes an RTCP sender report of a track: it lines the
// tracks up (A/V sync) and tells the publisher's clock offset.
func (p *WHIPPublisher) SenderReport(video bool, sr *rtcp.SenderReport, arrival time.Time) {
	t := p.track(video)
	if t == nil {
		return
	}
	p.src.tracker.SenderReport(sr.NTPTime, arrival)
	p.mu.Lock()
	defer p.mu.Unlock()
	t.clock.report(sr.RTPTime, ntpTime(sr.NTPTime), t.clockRate)
	if p.audio != nil {
		alignTracks(&p.video.clock, &p.audio.clock, p.video.clockRate, p.audio.clockRate)
	}
}

// SetNetwork records what the endpoint measures: the round trip to the
// publisher and the NACKs sent to it.
func (p *WHIPPublisher) SetNetwork(rttMS float64, nacks uint64) {
	p.mu.Lock()
	p.stats.RTTMS, p.stats.NACKsSent = roundTo(rttMS, 1), nacks
	p.mu.Unlock()
}

// NetStats are the publisher's figures now.
func (p *WHIPPublisher) NetStats() NetStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.stats
	n.BitrateKbps = roundTo(p.rate.kbps, 1)
	if total := n.PacketsReceived + n.PacketsLost; total > 0 {
		n.LossPct = roundTo(100*float64(n.PacketsLost)/float64(total), 2)
	}
	_, n.PathLost = p.path.totals()
	n.PathLossPct = roundTo(p.path.share(), 2)
	return n
}

// Close detaches the publisher from its source (the peer connection
// closed); reason is shown as the source's error while offline. Safe to
// call more than once. It does not close the peer connection: the source
// asks for that through end.
func (p *WHIPPublisher) Close(reason string) {
	if p.closed.Swap(true) {
		return
	}
	p.end(reason)
	p.src.left(p, reason)
}

// Silence: a publisher still connecting (ICE, DTLS, a TURN relay) gets
// longer than one that sent media and went silent.
func (p *WHIPPublisher) Silence(now time.Time) (idle, limit time.Duration) {
	limit = publisherIdleTimeout
	if !p.online.Load() {
		limit = whipConnectTimeout
	}
	return now.Sub(time.Unix(0, p.lastPacket.Load())), limit
}

// Drop is Close: the source's watch drops a silent publisher with it.
func (p *WHIPPublisher) Drop(reason string) { p.Close(reason) }

// FlushErrors logs the packets not decoded since the last call, as one line.
func (p *WHIPPublisher) FlushErrors() {
	p.mu.Lock()
	total := p.dep.Errors()
	n := total - p.errReported
	p.errReported = total
	p.mu.Unlock()
	if n > 0 {
		p.src.log.Warn("packets from publisher could not be decoded", "count", n, "last", p.dep.LastError())
	}
}

// rateWindow is the received payload bitrate over bitrateWindow.
type rateWindow struct {
	start time.Time
	bytes int
	kbps  float64
}

func (r *rateWindow) add(now time.Time, n int) {
	if r.start.IsZero() {
		r.start = now
	}
	r.bytes += n
	r.roll(now)
}

func (r *rateWindow) roll(now time.Time) {
	if el := now.Sub(r.start); !r.start.IsZero() && el >= bitrateWindow {
		r.kbps = float64(r.bytes) * 8 / 1000 / el.Seconds()
		r.start, r.bytes = now, 0
	}
}

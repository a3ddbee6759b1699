package whep

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"diemcau/pipeline"
)

// rtxPerSecond caps the retransmissions one viewer can ask for, so a
// broken or hostile receiver cannot turn NACKs into an amplifier.
const rtxPerSecond = 1000

type bindState uint8

const (
	bindIdle    bindState = iota // negotiated; the viewer has not connected yet
	bindWaitKey                  // connected; video skipped until a keyframe
	bindLive
	bindDead
)

// binding is one viewer's sender of one track: the only per-viewer state
// on the packet path is the SSRC and payload type written into the shared
// packet's header.
type binding struct {
	kind   pipeline.Kind
	ssrc   uint32
	pt     uint8
	w      webrtc.TrackLocalWriter
	viewer *viewer
	armed  atomic.Bool // the viewer connected

	// Owned by the broadcaster goroutine.
	state    bindState
	rtxLeft  int
	rtxSince time.Time

	sent, rtx, failed atomic.Uint64
	notReady          atomic.Uint64 // writes before the viewer's SRTP was up
	lastErr           atomic.Pointer[string]
	lost              atomic.Uint32 // cumulative loss the viewer reports (RTCP RR)
}

type nackRequest struct {
	b    *binding
	seqs []uint16
}

// broadcaster serves one stream to all its viewers: one goroutine owns one
// pipeline.Reader, packetises each frame once into the stream's rings and
// writes the packets to every viewer, batching the UDP sends.
type broadcaster struct {
	stream    *pipeline.Stream
	composite bool
	log       *slog.Logger
	group     *batchGroup
	onReorder func(*pipeline.Track)

	reader                 *pipeline.Reader
	video, audio           *ring
	videoBase, audioBase   uint32
	videoTrack, audioTrack *pipeline.Track
	lastPTS                time.Duration
	havePTS                bool
	hdr                    rtp.Header
	clock                  mediaClock // for the viewers' sender reports

	mu       sync.Mutex
	bindings []*binding
	snap     atomic.Pointer[[]*binding]

	wake  chan struct{}
	nacks chan nackRequest
	stop  chan struct{}

	viewers int // guarded by the Server's mu

	frames, packets, sends, rtx, rtxMiss, sendErrors, keyRequests atomic.Uint64
}

func newBroadcaster(s *pipeline.Stream, composite bool, cfg Config, log *slog.Logger, g *batchGroup) *broadcaster {
	b := &broadcaster{
		stream:    s,
		composite: composite,
		log:       log.With("stream", s.Name()),
		group:     g,
		reader:    s.NewReader(pipeline.ReaderConfig{Name: "whep", FromKeyframe: true}),
		// Random starts, as RFC 3550 asks, so a stream restarted at the
		// same viewer does not look like a replay to SRTP.
		video:     newRing(cfg.VideoRing, uint16(rand.Uint32()), maxPayload),
		audio:     newRing(cfg.AudioRing, uint16(rand.Uint32()), 256),
		videoBase: rand.Uint32(),
		audioBase: rand.Uint32(),
		wake:      make(chan struct{}, 1),
		nacks:     make(chan nackRequest, 256),
		stop:      make(chan struct{}),
	}
	b.snap.Store(&[]*binding{})
	b.hdr.Version = 2
	return b
}

func (b *broadcaster) addBinding(bd *binding) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bindings = append(b.bindings, bd)
	b.publishLocked()
}

func (b *broadcaster) removeBinding(bd *binding) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.bindings {
		if x == bd {
			b.bindings = append(b.bindings[:i], b.bindings[i+1:]...)
			break
		}
	}
	b.publishLocked()
}

// publishLocked hands the fan-out a fresh copy, so it reads the list
// without a lock while viewers come and go.
func (b *broadcaster) publishLocked() {
	s := make([]*binding, len(b.bindings))
	copy(s, b.bindings)
	b.snap.Store(&s)
}

func (b *broadcaster) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// nack queues a retransmission request from a viewer's RTCP reader; the
// broadcaster goroutine, which owns the rings, answers it.
func (b *broadcaster) nack(bd *binding, seqs []uint16) {
	select {
	case b.nacks <- nackRequest{b: bd, seqs: seqs}:
	default:
		b.rtxMiss.Add(uint64(len(seqs)))
	}
}

// keyframe asks the stream's writer for a keyframe (rate-limited by the
// stream) after a viewer's PLI or FIR.
func (b *broadcaster) keyframe() {
	if b.stream.RequestKeyframe() {
		b.keyRequests.Add(1)
	}
}

// framesPerRound bounds the frames written between two looks at joining
// viewers and NACKs: a broadcaster that has fallen behind (a busy machine)
// would otherwise drain its queue forever and never start a new viewer.
const framesPerRound = 4

func (b *broadcaster) run(ctx context.Context) {
	defer b.reader.Close()
	more := false
	for {
		var nack *nackRequest
		if more {
			select {
			case <-ctx.Done():
				return
			case <-b.stop:
				return
			default:
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case <-b.stop:
				return
			case <-b.reader.Wake():
			case <-b.wake:
			case n := <-b.nacks:
				nack = &n
			}
		}
		b.group.Hold()
		if nack != nil {
			b.retransmit(*nack)
		}
		b.startViewers()
		var ended bool
		ended, more = b.drain(framesPerRound)
		for queued := true; queued; {
			select {
			case n := <-b.nacks:
				b.retransmit(n)
			default:
				queued = false
			}
		}
		b.group.Release()
		if ended {
			b.kickAll("the stream ended")
			return
		}
	}
}

// drain writes up to limit queued frames; it reports whether the stream
// ended and whether frames are left.
func (b *broadcaster) drain(limit int) (ended, more bool) {
	for range limit {
		f, err := b.reader.Poll()
		if err != nil {
			return true, false
		}
		if f == nil {
			return false, false
		}
		b.writeFrame(f)
	}
	return false, true
}

func (b *broadcaster) writeFrame(f *pipeline.Frame) {
	t := f.Track
	if t == nil {
		return
	}
	defer b.frames.Add(1) // after the fan-out: benchmarks wait on it
	b.clock.note(f.PTS, time.Now())
	switch t.Kind() {
	case pipeline.Video:
		if t != b.videoTrack {
			if old := b.videoTrack; old != nil && (old.Codec != t.Codec || profileOf(old) != profileOf(t)) {
				b.kickAll("the stream's video format changed; reconnect to renegotiate")
			}
			b.videoTrack, b.havePTS = t, false
			b.video.forgetKey()
		}
		// WebRTC has no decode timestamps: frames must come in display order.
		if b.havePTS && f.PTS < b.lastPTS {
			if b.onReorder != nil {
				b.onReorder(t)
			}
			b.kickAll("the feed uses B-frames, which browsers cannot play over WebRTC")
			b.havePTS = false
			return
		}
		b.lastPTS, b.havePTS = f.PTS, true
		first := b.video.next
		n := packetizeH264(b.video, f, b.videoBase+rtpTime(f.PTS, 90000))
		b.fanOut(b.video, pipeline.Video, first, n)
	case pipeline.Audio:
		if t != b.audioTrack {
			if old := b.audioTrack; old != nil && old.Codec != t.Codec {
				b.kickAll("the stream's audio codec changed; reconnect to renegotiate")
			}
			b.audioTrack = t
		}
		first := b.audio.next
		n := packetizeAudio(b.audio, f, b.audioBase+rtpTime(f.PTS, t.ClockRate()))
		b.fanOut(b.audio, pipeline.Audio, first, n)
	}
}

// rtpAt is the RTP time of the video or audio track at clockRate at
// wall-clock time now, on the frames' own timeline; false before the first
// frame. Any goroutine (the viewers' sender reports).
func (b *broadcaster) rtpAt(video bool, clockRate uint32, now time.Time) (uint32, bool) {
	pts, ok := b.clock.at(now)
	if !ok || clockRate == 0 {
		return 0, false
	}
	base := b.audioBase
	if video {
		base = b.videoBase
	}
	return base + rtpTime(pts, int(clockRate)), true
}

func profileOf(t *pipeline.Track) byte {
	if len(t.SPS) > 1 {
		return t.SPS[1]
	}
	return 0
}

// fanOut sends packets [first, first+n) of a ring to every live binding of
// that kind: the loop the whole design exists to keep short. A viewer's
// packets of one frame go out back to back so the socket can coalesce them
// into one GSO send.
func (b *broadcaster) fanOut(r *ring, kind pipeline.Kind, first uint16, n int) {
	b.packets.Add(uint64(n))
	for _, bd := range *b.snap.Load() {
		if bd.kind != kind {
			continue
		}
		for i := range n {
			p := &r.slots[int(first+uint16(i))&r.mask]
			switch bd.state {
			case bindLive:
			case bindWaitKey:
				if !p.keyStart {
					continue
				}
				bd.state = bindLive
			default:
				continue
			}
			b.send(bd, p)
		}
	}
}

// send writes one shared packet to one viewer; false when it did not go
// (the viewer's SRTP is not ready yet, or its connection closed).
func (b *broadcaster) send(bd *binding, p *packet) bool {
	h := &b.hdr
	h.PayloadType = bd.pt
	h.SSRC = bd.ssrc
	h.SequenceNumber = p.seq
	h.Timestamp = p.ts
	h.Marker = p.marker
	n, err := bd.w.WriteRTP(h, p.payload)
	if err != nil {
		bd.state = bindDead
		bd.failed.Add(1)
		msg := err.Error()
		bd.lastErr.Store(&msg)
		b.sendErrors.Add(1)
		return false
	}
	if n == 0 {
		bd.notReady.Add(1)
		return false
	}
	bd.sent.Add(1)
	b.sends.Add(1)
	return true
}

// startViewers begins sending to bindings whose viewer has connected: a
// video binding gets the packets since the last keyframe from the ring, so
// its first picture comes at once; without one, it waits for the next
// keyframe, which is asked for.
func (b *broadcaster) startViewers() {
	for _, bd := range *b.snap.Load() {
		if bd.state != bindIdle || !bd.armed.Load() {
			continue
		}
		if bd.kind == pipeline.Audio {
			bd.state = bindLive
			continue
		}
		if b.composite {
			b.keyframe()
		}
		from, ok := b.video.gop()
		if !ok {
			bd.state = bindWaitKey
			b.keyframe()
			continue
		}
		if from == b.video.next {
			bd.state = bindWaitKey
			continue
		}
		started := true
		for seq := from; seq != b.video.next; seq++ {
			if !b.send(bd, b.video.get(seq)) {
				started = false
				break
			}
		}
		if started {
			bd.state = bindLive
		}
		// Otherwise SRTP was not ready yet (try again on the next frame),
		// or the connection closed (the binding is dead).
	}
}

func (b *broadcaster) retransmit(req nackRequest) {
	bd := req.b
	if bd.state != bindLive {
		return
	}
	r := b.video
	if bd.kind == pipeline.Audio {
		r = b.audio
	}
	now := time.Now()
	if now.Sub(bd.rtxSince) >= time.Second {
		bd.rtxSince, bd.rtxLeft = now, rtxPerSecond
	}
	for _, seq := range req.seqs {
		p := r.get(seq)
		if p == nil || bd.rtxLeft <= 0 {
			b.rtxMiss.Add(1)
			continue
		}
		bd.rtxLeft--
		if b.send(bd, p) {
			bd.rtx.Add(1)
			b.rtx.Add(1)
		}
	}
}

// kickAll ends every viewer of the stream, with the reason in the log.
func (b *broadcaster) kickAll(reason string) {
	seen := map[*viewer]bool{}
	for _, bd := range *b.snap.Load() {
		if v := bd.viewer; v != nil && !seen[v] {
			seen[v] = true
			v.close(reason)
		}
	}
}

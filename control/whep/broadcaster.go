package whep

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

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
	shard  *shard      // the sender that writes to it
	armed  atomic.Bool // the viewer connected

	// Owned by the shard's goroutine.
	state    bindState
	rtxLeft  int
	rtxSince time.Time

	sent, rtx, failed atomic.Uint64
	notReady          atomic.Uint64 // writes before the viewer's SRTP was up
	lastErr           atomic.Pointer[string]
	lost              atomic.Uint32 // cumulative loss the viewer reports (RTCP RR)

	// Renditions (video only; rendition.go). Owned by the shard: the rung
	// the binding is on, what is added to that ring's sequence numbers so
	// the viewer's stay continuous across moves, the viewer sequence
	// number of the first packet since the last move, and the last packet
	// it got.
	rend     int
	seqOff   uint16
	movedAt  uint16
	lastSeq  uint16
	lastTS   uint32
	sentAny  bool
	keyAsked bool // a keyframe was asked of the rung it waits to move to
	// want is the rung asked for (any goroutine); on is rend, for status.
	want, on atomic.Int32
	moves    atomic.Uint64
	sentB    atomic.Uint64 // payload bytes sent, for the bitrate in status
}

type nackRequest struct {
	b    *binding
	seqs []uint16
}

// broadcaster serves one stream to all its viewers. One goroutine owns the
// stream's pipeline.Reader and packetises each frame once into the stream's
// rings; the viewers are spread over Config.Senders shards (shard.go), each
// a goroutine that writes the shared packets to its own viewers, so a
// stream's fan-out uses every core. The writer never waits for a shard: a
// shard that falls behind skips ahead and counts what its viewers lost.
type broadcaster struct {
	stream    *pipeline.Stream
	composite bool
	log       *slog.Logger
	group     *batchGroup
	onReorder func(*pipeline.Track)

	reader               *pipeline.Reader
	video, audio         *ring // video is rungs[0]'s
	videoBase, audioBase uint32
	audioTrack           *pipeline.Track
	clock                mediaClock // for the viewers' sender reports
	// rungs are the stream's video renditions: rungs[0] the stream's own,
	// then the lower ones a viewer may be moved to (rendition.go). Their
	// packets share videoBase, so one picture time is one RTP time on
	// every rung.
	rungs []*rung

	shards []*shard
	mu     sync.Mutex // the shards' viewer counts
	stop   chan struct{}

	viewers int // guarded by the Server's mu

	frames, packets, rtx, rtxMiss, sendErrors, keyRequests atomic.Uint64
}

func newBroadcaster(s *pipeline.Stream, composite bool, cfg Config, log *slog.Logger, g *batchGroup, lower ...*pipeline.Stream) *broadcaster {
	b := &broadcaster{
		stream:    s,
		composite: composite,
		log:       log.With("stream", s.Name()),
		group:     g,
		reader:    s.NewReader(pipeline.ReaderConfig{Name: "whep", FromKeyframe: true}),
		// Random starts, as RFC 3550 asks, so a stream restarted at the
		// same viewer does not look like a replay to SRTP.
		video:     newRing(cfg.VideoRing, uint16(rand.Uint32())),
		audio:     newRing(cfg.AudioRing, uint16(rand.Uint32())),
		videoBase: rand.Uint32(),
		audioBase: rand.Uint32(),
		stop:      make(chan struct{}),
	}
	b.rungs = append(b.rungs, &rung{stream: s, reader: b.reader, ring: b.video})
	for _, l := range lower {
		if l != nil {
			b.rungs = append(b.rungs, &rung{stream: l, ring: newRing(cfg.VideoRing, uint16(rand.Uint32())),
				reader: l.NewReader(pipeline.ReaderConfig{Name: "whep-rendition", FromKeyframe: true})})
		}
	}
	for i := range max(cfg.Senders, 1) {
		b.shards = append(b.shards, newShard(b, i%len(g.holds)))
	}
	return b
}

// assign picks the shard a new viewer's tracks go to: the one with the
// fewest viewers.
func (b *broadcaster) assign() *shard {
	b.mu.Lock()
	defer b.mu.Unlock()
	best := b.shards[0]
	for _, sh := range b.shards[1:] {
		if sh.viewers < best.viewers {
			best = sh
		}
	}
	best.viewers++
	return best
}

func (b *broadcaster) unassign(sh *shard) {
	b.mu.Lock()
	sh.viewers--
	b.mu.Unlock()
}

// nack queues a retransmission request from a viewer's RTCP reader; the
// viewer's shard answers it from the stream's ring.
func (b *broadcaster) nack(bd *binding, seqs []uint16) {
	select {
	case bd.shard.nacks <- nackRequest{b: bd, seqs: seqs}:
		bd.shard.poke()
	default:
		b.rtxMiss.Add(uint64(len(seqs)))
	}
}

// keyframe asks the stream's writer for a keyframe (rate-limited by the
// stream) after a viewer's PLI or FIR.
func (b *broadcaster) keyframe() { b.keyframeOf(0) }

// keyframeOf asks rung i's writer for a keyframe.
func (b *broadcaster) keyframeOf(i int) {
	if i >= 0 && i < len(b.rungs) && b.rungs[i].stream.RequestKeyframe() {
		b.keyRequests.Add(1)
	}
}

// run packetises the stream until it ends, ctx ends or the last viewer
// leaves; it returns once every shard has stopped.
func (b *broadcaster) run(ctx context.Context) {
	for _, rg := range b.rungs {
		defer rg.reader.Close()
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, sh := range b.shards {
		wg.Go(func() { sh.run(ctx) })
	}
	defer wg.Wait()
	defer cancel()
	var lower <-chan struct{} // a lower rung's reader; they wake together
	if len(b.rungs) > 1 {
		lower = b.rungs[1].reader.Wake()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.stop:
			return
		case <-b.reader.Wake():
		case <-lower:
		}
		if b.drain() {
			b.kickAll("the stream ended")
			return
		}
		if b.drainLower() {
			lower = nil // its stream ended: nobody moves to it now
		}
	}
}

// drain packetises every queued frame; true when the stream ended.
func (b *broadcaster) drain() (ended bool) {
	for {
		f, err := b.reader.Poll()
		if err != nil {
			return true
		}
		if f == nil {
			return false
		}
		b.writeFrame(f)
	}
}

func (b *broadcaster) writeFrame(f *pipeline.Frame) {
	t := f.Track
	if t == nil {
		return
	}
	b.clock.note(f.PTS, time.Now())
	switch t.Kind() {
	case pipeline.Video:
		if !b.writeVideo(b.rungs[0], f) {
			return
		}
	case pipeline.Audio:
		if t != b.audioTrack {
			if old := b.audioTrack; old != nil && old.Codec != t.Codec {
				b.kickAll("the stream's audio codec changed; reconnect to renegotiate")
			}
			b.audioTrack = t
		}
		b.packets.Add(uint64(packetizeAudio(b.audio, f, b.audioBase+rtpTime(f.PTS, t.ClockRate()))))
	default:
		return
	}
	b.frames.Add(1)
	b.pokeShards()
}

func (b *broadcaster) pokeShards() {
	for _, sh := range b.shards {
		if len(*sh.snap.Load()) > 0 {
			sh.poke()
		}
	}
}

// writeVideo packetises one picture into rung g's ring; false when it was
// refused (and the viewers sent away).
func (b *broadcaster) writeVideo(g *rung, f *pipeline.Frame) bool {
	t := f.Track
	if t != g.track {
		if old := g.track; old != nil && (old.Codec != t.Codec || profileOf(old) != profileOf(t)) {
			b.kickAll("the stream's video format changed; reconnect to renegotiate")
		}
		g.track, g.havePTS = t, false
		g.ring.forgetKey()
	}
	// WebRTC has no decode timestamps: frames must come in display order.
	if g.havePTS && f.PTS < g.lastPTS {
		if b.onReorder != nil {
			b.onReorder(t)
		}
		b.kickAll("the feed uses B-frames, which browsers cannot play over WebRTC")
		g.havePTS = false
		return false
	}
	g.lastPTS, g.havePTS = f.PTS, true
	b.packets.Add(uint64(packetizeH264(g.ring, f, b.videoBase+rtpTime(f.PTS, 90000))))
	return true
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

// kickAll ends every viewer of the stream, with the reason in the log.
func (b *broadcaster) kickAll(reason string) {
	for _, sh := range b.shards {
		for _, bd := range *sh.snap.Load() {
			if v := bd.viewer; v != nil {
				v.close(reason) // once per viewer: close is idempotent
			}
		}
	}
}

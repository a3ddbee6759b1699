package whep

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// roundPackets bounds the packets of a ring one round writes before the
// shard looks again at joining viewers and NACKs: a shard that has fallen
// behind (a busy machine) would otherwise catch up first and start a new
// viewer late.
const roundPackets = 128

// shard is one of a stream's senders: a goroutine that writes the stream's
// shared packets to its share of the viewers. Per viewer and packet it
// sets SSRC and payload type in its own header and hands the packet to the
// viewer's SRTP writer, which encrypts it into the socket's batch (the
// per-viewer cost: one AES pass, no allocation). Each shard batches its
// UDP writes in a lane of its own (udpbatch.go), so shards do not queue on
// one lock.
type shard struct {
	b    *broadcaster
	lane int

	mu       sync.Mutex
	bindings []*binding
	snap     atomic.Pointer[[]*binding]
	viewers  int // guarded by b.mu: viewers assigned here, for the spread

	wake  chan struct{}
	nacks chan nackRequest

	// Owned by the shard's goroutine.
	hdr   rtp.Header
	vcur  []uint16    // per rung: the next sequence number to write
	audio uint16      // the same, of the audio ring
	vpkts [][]*packet // per rung: one round's packets, looked up once for all viewers
	pkts  []*packet   // the audio's

	// doneV and doneA are vcur and audio as written, for Stats.Pending.
	doneV          []atomic.Uint32
	doneA          atomic.Uint32
	sends, dropped atomic.Uint64
}

func newShard(b *broadcaster, lane int) *shard {
	s := &shard{
		b: b, lane: lane,
		wake:  make(chan struct{}, 1),
		nacks: make(chan nackRequest, 256),
		audio: b.audio.published(),
		pkts:  make([]*packet, 0, roundPackets),
		doneV: make([]atomic.Uint32, len(b.rungs)),
	}
	for _, g := range b.rungs {
		s.vcur = append(s.vcur, g.ring.published())
		s.vpkts = append(s.vpkts, make([]*packet, 0, roundPackets))
	}
	s.hdr.Version = 2
	s.snap.Store(&[]*binding{})
	s.markDone()
	return s
}

func (s *shard) add(bd *binding) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bindings = append(s.bindings, bd)
	s.publishLocked()
}

func (s *shard) remove(bd *binding) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.bindings {
		if x == bd {
			s.bindings = append(s.bindings[:i], s.bindings[i+1:]...)
			break
		}
	}
	s.publishLocked()
}

// publishLocked hands the fan-out a fresh copy, so it reads the list
// without a lock while viewers come and go.
func (s *shard) publishLocked() {
	l := make([]*binding, len(s.bindings))
	copy(l, s.bindings)
	s.snap.Store(&l)
}

func (s *shard) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *shard) markDone() {
	for i, c := range s.vcur {
		s.doneV[i].Store(uint32(c))
	}
	s.doneA.Store(uint32(s.audio))
}

// pending is the packets published that this shard has not written yet.
func (s *shard) pending() uint64 {
	n := uint64(s.b.audio.published() - uint16(s.doneA.Load()))
	for i, g := range s.b.rungs {
		n += uint64(g.ring.published() - uint16(s.doneV[i].Load()))
	}
	return n
}

func (s *shard) run(ctx context.Context) {
	more := false
	for {
		var nack *nackRequest
		if more {
			select {
			case <-ctx.Done():
				return
			default:
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			case n := <-s.nacks:
				nack = &n
			}
		}
		more = s.round(nack)
	}
}

// round answers NACKs, starts viewers that connected and writes up to
// roundPackets of each ring; true when more are waiting.
func (s *shard) round(nack *nackRequest) (more bool) {
	g := s.b.group
	g.Hold(s.lane)
	defer g.Release(s.lane)
	if nack != nil {
		s.retransmit(*nack)
	}
	bds := *s.snap.Load()
	if !anySending(bds) {
		// Nobody to write to: start from the newest, a joining viewer
		// from its keyframe. No loss to count.
		for i, g := range s.b.rungs {
			s.vcur[i] = g.ring.published()
		}
		s.audio = s.b.audio.published()
	}
	s.startViewers(bds)
	more = s.videoRound(bds)
	if s.catchUp(bds) {
		more = true
	}
	s.markDone()
	for queued := true; queued; {
		select {
		case n := <-s.nacks:
			s.retransmit(n)
		default:
			queued = false
		}
	}
	return more
}

func anySending(bds []*binding) bool {
	for _, bd := range bds {
		if bd.state == bindLive || bd.state == bindWaitKey {
			return true
		}
	}
	return false
}

// catchUp writes the audio ring's packets from where the shard is, at
// most roundPackets (videoRound does the video's). A shard more than a
// quarter of a ring behind (starved of CPU, or a viewer's writes stalled
// it) skips to the newest packet: the writer never waits for it, and its
// viewers' loss is counted; their video restarts at the next keyframe,
// which is asked for.
func (s *shard) catchUp(bds []*binding) (more bool) {
	r, kind, cursor := s.b.audio, pipeline.Audio, &s.audio
	pub := r.published()
	behind := int(pub - *cursor)
	if behind == 0 {
		return false
	}
	if behind > len(r.slots)/4 {
		s.skip(bds, kind, 0, behind)
		*cursor = pub
		return false
	}
	n := min(behind, roundPackets)
	s.pkts = s.pkts[:0]
	for i := range n {
		s.pkts = append(s.pkts, r.get(*cursor+uint16(i)))
	}
	*cursor += uint16(n)
	for _, bd := range bds {
		if bd.kind != kind {
			continue
		}
		for _, p := range s.pkts {
			switch bd.state {
			case bindLive:
			case bindWaitKey:
				if p == nil || !p.keyStart {
					continue
				}
				bd.state = bindLive
			default:
				continue
			}
			if p == nil {
				s.dropped.Add(1) // overwritten while this shard lagged
				continue
			}
			s.send(bd, p)
		}
	}
	clear(s.pkts)
	return behind > n
}

// skip counts n packets of rung i (or of the audio) lost to every live
// binding on it.
func (s *shard) skip(bds []*binding, kind pipeline.Kind, i, n int) {
	restart := false
	for _, bd := range bds {
		if bd.kind != kind || bd.state != bindLive || (kind == pipeline.Video && bd.rend != i) {
			continue
		}
		s.dropped.Add(uint64(n))
		if kind == pipeline.Video {
			bd.state = bindWaitKey
			restart = true
		}
	}
	if restart {
		s.b.keyframeOf(i)
	}
}

// send writes one shared packet to one viewer; false when it did not go
// (the viewer's SRTP is not ready yet, or its connection closed).
func (s *shard) send(bd *binding, p *packet) bool {
	h := &s.hdr
	h.PayloadType = bd.pt
	h.SSRC = bd.ssrc
	seq := p.seq + bd.seqOff
	h.SequenceNumber = seq
	h.Timestamp = p.ts
	h.Marker = p.marker
	n, err := bd.w.WriteRTP(h, p.payload)
	if err != nil {
		bd.state = bindDead
		bd.failed.Add(1)
		msg := err.Error()
		bd.lastErr.Store(&msg)
		s.b.sendErrors.Add(1)
		return false
	}
	if n == 0 {
		bd.notReady.Add(1)
		return false
	}
	bd.sent.Add(1)
	bd.sentB.Add(uint64(len(p.payload)))
	s.sends.Add(1)
	if int16(seq-bd.lastSeq) > 0 || !bd.sentAny { // not a retransmission
		bd.lastSeq, bd.lastTS, bd.sentAny = seq, p.ts, true
	}
	return true
}

// startViewers begins sending to bindings whose viewer has connected: a
// video binding gets the packets from the last keyframe up to where this
// shard is, so its first picture comes at once; without one, it waits for
// the next keyframe, which is asked for.
func (s *shard) startViewers(bds []*binding) {
	b := s.b
	for _, bd := range bds {
		if bd.state != bindIdle || !bd.armed.Load() {
			continue
		}
		if bd.kind == pipeline.Audio {
			bd.state = bindLive
			continue
		}
		bd.rend = min(max(int(bd.want.Load()), 0), len(b.rungs)-1)
		bd.on.Store(int32(bd.rend))
		g, cur := b.rungs[bd.rend].ring, s.vcur[bd.rend]
		if b.composite {
			b.keyframeOf(bd.rend)
		}
		from, ok := g.gop()
		if !ok {
			bd.state = bindWaitKey
			b.keyframeOf(bd.rend)
			continue
		}
		if d := cur - from; d == 0 || d >= 1<<15 {
			// The keyframe is not written here yet: it starts the
			// viewer when it is.
			bd.state = bindWaitKey
			continue
		}
		started := true
		for seq := from; seq != cur; seq++ {
			p := g.get(seq)
			if p == nil {
				bd.state = bindWaitKey // overwritten meanwhile
				b.keyframeOf(bd.rend)
				started = false
				break
			}
			if !s.send(bd, p) {
				started = false
				break
			}
		}
		if started {
			bd.state = bindLive
		}
		// Otherwise SRTP was not ready yet (try again on the next round),
		// or the connection closed (the binding is dead).
	}
}

func (s *shard) retransmit(req nackRequest) {
	bd := req.b
	if bd.state != bindLive {
		return
	}
	b := s.b
	r := b.rungs[bd.rend].ring
	if bd.kind == pipeline.Audio {
		r = b.audio
	}
	now := time.Now()
	if now.Sub(bd.rtxSince) >= time.Second {
		bd.rtxSince, bd.rtxLeft = now, rtxPerSecond
	}
	for _, seq := range req.seqs {
		var p *packet
		if rs, ok := bd.ringSeq(seq); ok {
			p = r.get(rs)
		}
		if p == nil || bd.rtxLeft <= 0 {
			b.rtxMiss.Add(1)
			continue
		}
		bd.rtxLeft--
		if s.send(bd, p) {
			bd.rtx.Add(1)
			b.rtx.Add(1)
		}
	}
}

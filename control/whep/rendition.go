package whep

import (
	"sync/atomic"
	"time"

	"diemcau/pipeline"
)

// A stream may come in renditions: the session composite encoded once at
// its configured size and once lower (mixer.Low), from the same pictures.
// Each rendition is a rung of the stream's broadcaster: its own reader and
// ring, packetised once, with the RTP times of the main rung (one base for
// all, so one picture has one RTP time everywhere). A viewer's video is on
// one rung at a time and moves at a keyframe of the rung it moves to:
// from that keyframe on it gets the new rung's packets, renumbered to
// follow its last one, so its decoder sees one stream whose pictures
// change size at an IDR, with no gap and no repeat. The sound is the same
// on every rung and is not touched.

// rungHold bounds how long a rung's packets wait for the other rungs'
// packets of the same time: moving between rungs cleanly needs them
// written in step, but a stalled encoder of one rung must not stall the
// others by more than this.
const rungHold = 100 * time.Millisecond

// rung is one rendition of a stream's video.
type rung struct {
	stream  *pipeline.Stream
	reader  *pipeline.Reader // rungs[0]'s also carries the stream's audio
	ring    *ring
	track   *pipeline.Track
	lastPTS time.Duration
	havePTS bool
	ended   atomic.Bool // its stream closed: nobody waits for it
}

// drainLower packetises the lower rungs' queued pictures (their sound is
// the main rung's, already written); true when a lower stream ended.
func (b *broadcaster) drainLower() (ended bool) {
	for _, g := range b.rungs[1:] {
		for !g.ended.Load() {
			f, err := g.reader.Poll()
			if err != nil {
				g.ended.Store(true)
				ended = true
				break
			}
			if f == nil {
				break
			}
			if f.Track != nil && f.Track.Kind() == pipeline.Video && b.writeVideo(g, f) {
				b.pokeShards()
			}
		}
	}
	return ended
}

// horizon is the newest RTP time every rung may be written up to this
// round: the oldest of the rungs' newest pictures, so a viewer moving
// between rungs is written both in step, but never more than rungHold
// behind the newest (a rung whose encoder stalled holds nobody long).
func (s *shard) horizon() (uint32, bool) {
	var lo, hi uint32
	have := false
	for _, g := range s.b.rungs {
		ts, ok := g.ring.newestTS()
		if !ok || g.ended.Load() {
			continue
		}
		if !have {
			lo, hi, have = ts, ts, true
			continue
		}
		if int32(ts-lo) < 0 {
			lo = ts
		}
		if int32(ts-hi) > 0 {
			hi = ts
		}
	}
	if floor := hi - uint32(rungHold/time.Millisecond)*90; have && int32(lo-floor) < 0 {
		lo = floor
	}
	return lo, have
}

// videoRound writes up to roundPackets of each rung's packets to the
// shard's video bindings, all rungs up to one horizon; true when more are
// waiting.
func (s *shard) videoRound(bds []*binding) (more bool) {
	rungs := s.b.rungs
	h, haveH := s.horizon()
	step := len(rungs) > 1 && haveH
	for i, g := range rungs {
		r := g.ring
		cur := &s.vcur[i]
		pub := r.published()
		behind := int(pub - *cur)
		if behind > len(r.slots)/4 {
			s.skip(bds, pipeline.Video, i, behind)
			*cur, behind = pub, 0
		}
		pk := s.vpkts[i][:0]
		for len(pk) < behind && len(pk) < roundPackets {
			p := r.get(*cur + uint16(len(pk)))
			if p != nil && step && int32(p.ts-h) > 0 {
				break // waits for the other rungs
			}
			pk = append(pk, p)
		}
		s.vpkts[i] = pk
		*cur += uint16(len(pk))
		if len(pk) == roundPackets && behind > roundPackets {
			more = true
		}
	}
	for _, bd := range bds {
		if bd.kind == pipeline.Video && (bd.state == bindLive || bd.state == bindWaitKey) {
			s.writeVideoTo(bd)
		}
	}
	for i := range s.vpkts {
		clear(s.vpkts[i])
	}
	return more
}

// writeVideoTo writes one binding its share of this round: its rung's
// packets, and when it is to move, the rung it moves to from the first
// keyframe there that is newer than what it has.
func (s *shard) writeVideoTo(bd *binding) {
	want := int(bd.want.Load())
	if want < 0 || want >= len(s.b.rungs) {
		want = 0
	}
	at := -1
	var atTS uint32
	if want != bd.rend {
		for j, p := range s.vpkts[want] {
			if p != nil && p.keyStart && (!bd.sentAny || int32(p.ts-bd.lastTS) > 0) {
				at, atTS = j, p.ts
				break
			}
		}
	} else {
		bd.keyAsked = false
	}
	for _, p := range s.vpkts[bd.rend] {
		if p == nil {
			if bd.state == bindLive {
				s.dropped.Add(1) // overwritten while this shard lagged
			}
			continue
		}
		if at >= 0 && int32(p.ts-atTS) >= 0 {
			break // the new rung has this picture
		}
		if bd.state == bindWaitKey {
			if !p.keyStart {
				continue
			}
			bd.state = bindLive
		}
		s.send(bd, p)
	}
	if at < 0 {
		if want != bd.rend && !bd.keyAsked {
			s.b.keyframeOf(want)
			bd.keyAsked = true
		}
		return
	}
	s.move(bd, want, s.vpkts[want][at])
	for _, p := range s.vpkts[want][at:] {
		if p == nil {
			s.dropped.Add(1)
			continue
		}
		s.send(bd, p)
	}
}

// move puts bd on rung i from its keyframe packet key on.
func (s *shard) move(bd *binding, i int, key *packet) {
	bd.seqOff = 0
	if bd.sentAny {
		bd.seqOff = bd.lastSeq + 1 - key.seq
	}
	bd.movedAt = key.seq + bd.seqOff
	bd.rend, bd.keyAsked = i, false
	bd.on.Store(int32(i))
	bd.moves.Add(1)
	if bd.state == bindWaitKey {
		bd.state = bindLive
	}
}

// ringSeq maps a viewer's sequence number of bd's track back to its ring's,
// false for one sent before the last move (another ring's).
func (bd *binding) ringSeq(seq uint16) (uint16, bool) {
	if bd.kind == pipeline.Video && bd.moves.Load() > 0 && int16(seq-bd.movedAt) < 0 {
		return 0, false
	}
	return seq - bd.seqOff, true
}

// setRendition asks for v's video to move to rung i (0 the main one) at
// the next keyframe there; false when the stream has no such rung.
func (v *viewer) setRendition(i int) bool {
	if i < 0 || i >= len(v.bc.rungs) {
		return false
	}
	for _, t := range v.tracks {
		if bd := t.binding(); bd != nil && bd.kind == pipeline.Video {
			bd.want.Store(int32(i))
		}
	}
	v.shard.poke()
	return true
}

// SetRendition moves a viewer's video to rendition i (0: the stream's
// own; 1: its low rendition) at the next keyframe there. False when there
// is no such viewer or its stream has no such rendition.
func (s *Server) SetRendition(viewerID string, i int) bool {
	s.mu.Lock()
	v := s.viewers[viewerID]
	s.mu.Unlock()
	return v != nil && v.setRendition(i)
}

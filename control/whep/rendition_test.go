package whep

import (
	"bytes"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// ladder is a broadcaster over a main and a low stream, one shard, driven
// by hand: a picture is written to both rungs at the same time, as the
// mixer's two encoders do.
type ladder struct {
	b         *broadcaster
	main, low *pipeline.Track
	n         int
	lowKeys   atomic.Int32 // keyframes asked of the low stream
}

func newLadder(t *testing.T) *ladder {
	main := &pipeline.Track{Codec: pipeline.H264, SPS: []byte{0x67, 0x42, 0xc0, 0x1e, 1}, PPS: []byte{0x68, 1}}
	low := &pipeline.Track{Codec: pipeline.H264, SPS: []byte{0x67, 0x42, 0xc0, 0x1e, 2}, PPS: []byte{0x68, 2}}
	ms, ls := pipeline.NewStream("main", main), pipeline.NewStream("low", low)
	t.Cleanup(ms.Close)
	t.Cleanup(ls.Close)
	cfg := Config{Senders: 1}.withDefaults()
	b := newBroadcaster(ms, true, cfg, slog.New(slog.DiscardHandler), newBatchGroup(1), ls)
	t.Cleanup(func() {
		for _, g := range b.rungs {
			g.reader.Close()
		}
	})
	l := &ladder{b: b, main: main, low: low}
	ls.SetKeyframeRequester(func() { l.lowKeys.Add(1) })
	return l
}

// picture writes picture n to both rungs (main first, or low first when
// lowFirst: the low encoder is often done sooner) and lets the shard run.
// Payload bytes say which rung and picture a packet is of.
func (l *ladder) picture(key, lowFirst bool) {
	pts := time.Duration(l.n) * time.Second / 30
	mk := func(t *pipeline.Track, tag byte) *pipeline.Frame {
		nal := bytes.Repeat([]byte{tag, byte(l.n)}, 700) // two packets
		nal[0] = 0x41
		if key {
			nal[0] = 0x65
		}
		return &pipeline.Frame{Track: t, PTS: pts, Key: key, NALUs: [][]byte{nal}}
	}
	m, lo := mk(l.main, 'M'), mk(l.low, 'L')
	if lowFirst {
		l.b.writeVideo(l.b.rungs[1], lo)
		l.b.shards[0].round(nil)
		l.b.writeVideo(l.b.rungs[0], m)
	} else {
		l.b.writeVideo(l.b.rungs[0], m)
		l.b.shards[0].round(nil)
		l.b.writeVideo(l.b.rungs[1], lo)
	}
	for l.b.shards[0].round(nil) {
	}
	l.n++
}

// rungOf says which rung a packet came from: the SPS differs, the other
// payloads carry the tag.
func rungOf(payload []byte) byte {
	switch {
	case len(payload) > 4 && payload[0]&0x1f == spsNAL:
		return map[byte]byte{1: 'M', 2: 'L'}[payload[4]]
	case len(payload) > 3 && payload[0]&0x1f == nalFUA:
		return payload[3]
	}
	return 0
}

// TestViewerMovesBetweenRenditions: a viewer asked to move goes over at
// the next keyframe of the other rung, its sequence numbers run on without
// a gap or a repeat and its times never go back; nothing of the old rung
// follows. It moves down when the low encoder is ahead and up when the main
// one is behind it, and a NACK from before a move is not answered with the
// other rung's packet.
func TestViewerMovesBetweenRenditions(t *testing.T) {
	l := newLadder(t)
	w := &recordingWriter{}
	bd := bind(l.b, &binding{kind: pipeline.Video, ssrc: 5, pt: 96, w: w})
	bd.armed.Store(true)
	l.picture(true, false)
	for range 5 {
		l.picture(false, false)
	}
	if bd.rend != 0 || len(w.pkts) == 0 {
		t.Fatalf("rung %d, %d packets: want the main rung's", bd.rend, len(w.pkts))
	}
	before := len(w.pkts)

	bd.want.Store(1)
	for range 3 {
		l.picture(false, true) // no keyframe on the low rung yet: stays
	}
	if bd.rend != 0 {
		t.Fatal("moved without a keyframe")
	}
	if l.lowKeys.Load() == 0 {
		t.Error("no keyframe asked of the low rung")
	}
	l.picture(true, true)
	for range 3 {
		l.picture(false, true)
	}
	if bd.rend != 1 || bd.moves.Load() != 1 || bd.on.Load() != 1 {
		t.Fatalf("rung %d after the low keyframe, %d moves", bd.rend, bd.moves.Load())
	}
	checkContinuous(t, w.pkts)
	moved := -1
	for i, p := range w.pkts[before:] {
		r := rungOf(p.Payload)
		if moved < 0 && r == 'L' {
			moved = before + i
			if p.Payload[0]&0x1f != spsNAL {
				t.Errorf("the first low packet is NAL type %d, want the keyframe's SPS", p.Payload[0]&0x1f)
			}
		}
		if moved >= 0 && r == 'M' {
			t.Fatalf("packet %d is the main rung's, after the move", before+i)
		}
	}
	if moved < 0 {
		t.Fatal("no low packet")
	}

	// A NACK for a packet sent before the move is not answered from the
	// low ring (another packet under the same number); one after is.
	sh := l.b.shards[0]
	sent := len(w.pkts)
	sh.retransmit(nackRequest{b: bd, seqs: []uint16{w.pkts[moved-1].SequenceNumber, w.pkts[sent-1].SequenceNumber}})
	if len(w.pkts) != sent+1 || !bytes.Equal(w.pkts[sent].Payload, w.pkts[sent-1].Payload) {
		t.Fatalf("after a NACK for one packet of each rung: %d sent, want the low one only", len(w.pkts)-sent)
	}
	w.pkts = w.pkts[:sent]

	// Back up, with the main encoder a picture behind the low one.
	upFrom := len(w.pkts)
	bd.want.Store(0)
	l.picture(true, true)
	for range 3 {
		l.picture(false, true)
	}
	if bd.rend != 0 {
		t.Fatalf("rung %d after the main keyframe, want 0", bd.rend)
	}
	checkContinuous(t, w.pkts)
	sawMain := false
	for _, p := range w.pkts[upFrom:] {
		switch rungOf(p.Payload) {
		case 'M':
			sawMain = true
		case 'L':
			if sawMain {
				t.Fatal("a low packet after the move up")
			}
		}
	}
	if !sawMain {
		t.Fatal("no main packet after the move up")
	}
}

// checkContinuous: sequence numbers one apart, times never back.
func checkContinuous(t *testing.T, pkts []rtp.Packet) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		if d := pkts[i].SequenceNumber - pkts[i-1].SequenceNumber; d != 1 {
			t.Fatalf("packet %d: sequence number %d after %d", i, pkts[i].SequenceNumber, pkts[i-1].SequenceNumber)
		}
		if int32(pkts[i].Timestamp-pkts[i-1].Timestamp) < 0 {
			t.Fatalf("packet %d: time %d after %d", i, pkts[i].Timestamp, pkts[i-1].Timestamp)
		}
	}
}

const spsNAL = 7 // H.264 sequence parameter set

// TestStalledRungHoldsOthersBriefly: the rungs are written in step, but
// a low rung whose encoder stopped holds the main rung's viewers no more
// than rungHold behind the newest picture.
func TestStalledRungHoldsOthersBriefly(t *testing.T) {
	l := newLadder(t)
	w := &recordingWriter{}
	bd := bind(l.b, &binding{kind: pipeline.Video, ssrc: 5, pt: 96, w: w})
	bd.armed.Store(true)
	l.picture(true, false)
	l.picture(false, false)
	sent := len(w.pkts)
	// The low encoder stops; main pictures go on, 33 ms apart.
	for range 10 {
		pts := time.Duration(l.n) * time.Second / 30
		nal := bytes.Repeat([]byte{'M', byte(l.n)}, 700)
		nal[0] = 0x41
		l.b.writeVideo(l.b.rungs[0], &pipeline.Frame{Track: l.main, PTS: pts, NALUs: [][]byte{nal}})
		for l.b.shards[0].round(nil) {
		}
		l.n++
	}
	if len(w.pkts) == sent {
		t.Fatal("the main rung's viewer got nothing while the low rung stalled")
	}
	newest, _ := l.b.video.newestTS()
	lag := time.Duration(newest-w.pkts[len(w.pkts)-1].Timestamp) * time.Second / 90000
	if lag > rungHold {
		t.Errorf("the main viewer is %v behind the newest picture, more than %v", lag, rungHold)
	}
	t.Logf("with the low rung stalled, the main viewer runs %v behind", lag)
}

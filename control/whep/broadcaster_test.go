package whep

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// recordingWriter stands in for a viewer's SRTP writer.
type recordingWriter struct {
	notReady int // first writes report SRTP not ready yet
	pkts     []rtp.Packet
}

func (w *recordingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.notReady > 0 {
		w.notReady--
		return 0, nil
	}
	w.pkts = append(w.pkts, rtp.Packet{Header: *h, Payload: append([]byte(nil), payload...)})
	return len(payload), nil
}

func (w *recordingWriter) Write(b []byte) (int, error) { return len(b), nil }

// testBroadcaster has one shard unless senders says otherwise.
func testBroadcaster(t *testing.T, senders ...int) (*broadcaster, *pipeline.Track) {
	track := &pipeline.Track{Codec: pipeline.H264, SPS: []byte{0x67, 0x42, 0xc0, 0x1e}, PPS: []byte{0x68, 1}}
	s := pipeline.NewStream("test", track)
	t.Cleanup(s.Close)
	cfg := Config{Senders: 1}
	if len(senders) > 0 {
		cfg.Senders = senders[0]
	}
	cfg = cfg.withDefaults()
	b := newBroadcaster(s, false, cfg, slog.New(slog.DiscardHandler), newBatchGroup(cfg.Senders))
	t.Cleanup(b.reader.Close)
	return b, track
}

// write packetises frames and lets shard 0 write them, as its goroutine
// would.
func write(b *broadcaster, fs ...*pipeline.Frame) {
	for _, f := range fs {
		b.writeFrame(f)
	}
	for b.shards[0].round(nil) {
	}
}

func bind(b *broadcaster, bd *binding) *binding {
	bd.shard = b.shards[0]
	bd.shard.add(bd)
	return bd
}

func frames(track *pipeline.Track, n int) []*pipeline.Frame {
	out := make([]*pipeline.Frame, n)
	for i := range out {
		out[i] = &pipeline.Frame{Track: track, Key: i == 0, NALUs: [][]byte{bytes.Repeat([]byte{0x41, byte(i)}, 1000)}}
		if i == 0 {
			out[i].NALUs[0][0] = 0x65
		}
	}
	return out
}

func TestNewViewerStartsAtCachedKeyframe(t *testing.T) {
	b, track := testBroadcaster(t)
	write(b, frames(track, 5)...)
	w := &recordingWriter{notReady: 1}
	bd := bind(b, &binding{kind: pipeline.Video, ssrc: 7, pt: 102, w: w})
	sh := b.shards[0]
	sh.round(nil)
	if bd.state != bindIdle || len(w.pkts) != 0 {
		t.Fatal("a viewer that has not connected got packets")
	}
	bd.armed.Store(true)
	sh.round(nil) // SRTP not ready: nothing sent, try again later
	if bd.state != bindIdle {
		t.Fatalf("state %d after SRTP was not ready, want idle", bd.state)
	}
	sh.round(nil)
	if bd.state != bindLive {
		t.Fatalf("state %d, want live", bd.state)
	}
	from, _ := b.video.gop()
	if len(w.pkts) != int(b.video.published()-from) || w.pkts[0].SequenceNumber != from {
		t.Fatalf("replayed %d packets from %d, want %d from %d", len(w.pkts), w.pkts[0].SequenceNumber, b.video.published()-from, from)
	}
	if p := w.pkts[0]; p.SSRC != 7 || p.PayloadType != 102 || p.Payload[0]&0x1f != 7 {
		t.Errorf("first packet: ssrc %d pt %d NAL type %d, want the viewer's SSRC and PT and the SPS", p.SSRC, p.PayloadType, p.Payload[0]&0x1f)
	}
}

func TestNACKAnsweredFromSharedRing(t *testing.T) {
	b, track := testBroadcaster(t)
	w1, w2 := &recordingWriter{}, &recordingWriter{}
	bind(b, &binding{kind: pipeline.Video, ssrc: 1, pt: 96, w: w1, state: bindLive})
	v2 := bind(b, &binding{kind: pipeline.Video, ssrc: 2, pt: 97, w: w2, state: bindLive})
	write(b, frames(track, 3)...)
	sh := b.shards[0]
	if len(w1.pkts) != len(w2.pkts) || len(w1.pkts) == 0 {
		t.Fatalf("viewers got %d and %d packets", len(w1.pkts), len(w2.pkts))
	}
	sent := len(w2.pkts)
	want := w2.pkts[1]
	sh.retransmit(nackRequest{b: v2, seqs: []uint16{want.SequenceNumber, b.video.published() + 5}})
	if len(w2.pkts) != sent+1 {
		t.Fatalf("after a NACK for 1 known and 1 unknown packet: %d more sent, want 1", len(w2.pkts)-sent)
	}
	got := w2.pkts[sent]
	if got.SequenceNumber != want.SequenceNumber || got.SSRC != 2 || !bytes.Equal(got.Payload, want.Payload) {
		t.Errorf("retransmission differs from the original")
	}
	if len(w1.pkts) != sent {
		t.Error("the other viewer got the retransmission too")
	}
	if b.rtx.Load() != 1 || b.rtxMiss.Load() != 1 {
		t.Errorf("rtx %d miss %d, want 1 and 1", b.rtx.Load(), b.rtxMiss.Load())
	}
	// The budget caps what one viewer may pull.
	seqs := make([]uint16, rtxPerSecond+50)
	for i := range seqs {
		seqs[i] = want.SequenceNumber
	}
	sh.retransmit(nackRequest{b: v2, seqs: seqs})
	if n := b.rtx.Load(); n != rtxPerSecond {
		t.Errorf("%d retransmissions, want the cap of %d", n, rtxPerSecond)
	}
}

func TestWaitKeyViewerSkipsToKeyframe(t *testing.T) {
	b, track := testBroadcaster(t)
	fs := frames(track, 3)
	w := &recordingWriter{}
	bind(b, &binding{kind: pipeline.Video, ssrc: 1, pt: 96, w: w, state: bindWaitKey})
	write(b, fs[1], fs[2])
	if len(w.pkts) != 0 {
		t.Fatalf("%d packets before a keyframe", len(w.pkts))
	}
	write(b, fs[0])
	if len(w.pkts) == 0 || w.pkts[0].Payload[0]&0x1f != 7 {
		t.Fatal("the keyframe did not start the viewer")
	}
}

package whep

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

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

func testBroadcaster(t *testing.T) (*broadcaster, *pipeline.Track) {
	track := &pipeline.Track{Codec: pipeline.H264, SPS: []byte{0x67, 0x42, 0xc0, 0x1e}, PPS: []byte{0x68, 1}}
	s := pipeline.NewStream("test", track)
	t.Cleanup(s.Close)
	b := newBroadcaster(s, false, Config{}.withDefaults(), slog.New(slog.DiscardHandler), &batchGroup{})
	t.Cleanup(b.reader.Close)
	return b, track
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
	for _, f := range frames(track, 5) {
		b.writeFrame(f)
	}
	w := &recordingWriter{notReady: 1}
	bd := &binding{kind: pipeline.Video, ssrc: 7, pt: 102, w: w}
	b.addBinding(bd)
	b.startViewers()
	if bd.state != bindIdle || len(w.pkts) != 0 {
		t.Fatal("a viewer that has not connected got packets")
	}
	bd.armed.Store(true)
	b.startViewers() // SRTP not ready: nothing sent, try again later
	if bd.state != bindIdle {
		t.Fatalf("state %d after SRTP was not ready, want idle", bd.state)
	}
	b.startViewers()
	if bd.state != bindLive {
		t.Fatalf("state %d, want live", bd.state)
	}
	from, _ := b.video.gop()
	if len(w.pkts) != int(b.video.next-from) || w.pkts[0].SequenceNumber != from {
		t.Fatalf("replayed %d packets from %d, want %d from %d", len(w.pkts), w.pkts[0].SequenceNumber, b.video.next-from, from)
	}
	if p := w.pkts[0]; p.SSRC != 7 || p.PayloadType != 102 || p.Payload[0]&0x1f != 7 {
		t.Errorf("first packet: ssrc %d pt %d NAL type %d, want the viewer's SSRC and PT and the SPS", p.SSRC, p.PayloadType, p.Payload[0]&0x1f)
	}
}

func TestNACKAnsweredFromSharedRing(t *testing.T) {
	b, track := testBroadcaster(t)
	w1, w2 := &recordingWriter{}, &recordingWriter{}
	v1 := &binding{kind: pipeline.Video, ssrc: 1, pt: 96, w: w1, state: bindLive}
	v2 := &binding{kind: pipeline.Video, ssrc: 2, pt: 97, w: w2, state: bindLive}
	b.addBinding(v1)
	b.addBinding(v2)
	for _, f := range frames(track, 3) {
		b.writeFrame(f)
	}
	if len(w1.pkts) != len(w2.pkts) || len(w1.pkts) == 0 {
		t.Fatalf("viewers got %d and %d packets", len(w1.pkts), len(w2.pkts))
	}
	sent := len(w2.pkts)
	want := w2.pkts[1]
	b.retransmit(nackRequest{b: v2, seqs: []uint16{want.SequenceNumber, b.video.next + 5}})
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
	b.retransmit(nackRequest{b: v2, seqs: seqs})
	if n := b.rtx.Load(); n != rtxPerSecond {
		t.Errorf("%d retransmissions, want the cap of %d", n, rtxPerSecond)
	}
}

func TestWaitKeyViewerSkipsToKeyframe(t *testing.T) {
	b, track := testBroadcaster(t)
	fs := frames(track, 3)
	w := &recordingWriter{}
	bd := &binding{kind: pipeline.Video, ssrc: 1, pt: 96, w: w, state: bindWaitKey}
	b.addBinding(bd)
	b.writeFrame(fs[1])
	b.writeFrame(fs[2])
	if len(w.pkts) != 0 {
		t.Fatalf("%d packets before a keyframe", len(w.pkts))
	}
	b.writeFrame(fs[0])
	if len(w.pkts) == 0 || w.pkts[0].Payload[0]&0x1f != 7 {
		t.Fatal("the keyframe did not start the viewer")
	}
}

// slowWriter is a viewer whose writes take a while: it makes the
// broadcaster fall behind its queue, as a busy machine would.
type slowWriter struct{ recordingWriter }

func (w *slowWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	time.Sleep(200 * time.Microsecond)
	return len(payload), nil
}

// queueWatcher records how many frames were still queued when a viewer got
// its first packet.
type queueWatcher struct {
	recordingWriter
	r      *pipeline.Reader
	queued chan int
}

func (w *queueWatcher) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if len(w.pkts) == 0 {
		w.queued <- w.r.Stats().Queued
	}
	return w.recordingWriter.WriteRTP(h, payload)
}

// TestJoinWhileBehind: a broadcaster with a backlog of frames (a busy
// machine) still starts a joining viewer without first draining it all.
func TestJoinWhileBehind(t *testing.T) {
	b, track := testBroadcaster(t)
	b.addBinding(&binding{kind: pipeline.Video, ssrc: 1, pt: 96, w: &slowWriter{}, state: bindLive})
	fs := frames(track, 2)
	for i := range 400 {
		f := *fs[min(i, 1)]
		f.PTS = time.Duration(i) * time.Millisecond
		b.stream.Write(&f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 10*time.Second, "the broadcaster to start on its backlog", func() bool { return b.frames.Load() > 0 })

	w := &queueWatcher{r: b.reader, queued: make(chan int, 1)}
	bd := &binding{kind: pipeline.Video, ssrc: 2, pt: 96, w: w}
	bd.armed.Store(true)
	b.addBinding(bd)
	b.poke()
	select {
	case q := <-w.queued:
		if q == 0 {
			t.Error("the viewer started only after the whole backlog was written")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the viewer never started")
	}
}

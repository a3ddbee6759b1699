package whep

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// countingWriter is a viewer written to from a shard's goroutine while the
// test reads its counts.
type countingWriter struct {
	pkts, keys atomic.Int64
}

func (w *countingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.pkts.Add(1)
	if len(payload) > 0 && payload[0]&0x1f == 7 /* SPS: a keyframe starts */ {
		w.keys.Add(1)
	}
	return len(payload), nil
}

func (w *countingWriter) Write(b []byte) (int, error) { return len(b), nil }

// stallingWriter blocks its first write until released: a viewer whose
// writes hang.
type stallingWriter struct {
	countingWriter
	once     sync.Once
	stalled  chan struct{}
	released chan struct{}
}

func (w *stallingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.once.Do(func() {
		close(w.stalled)
		<-w.released
	})
	return w.countingWriter.WriteRTP(h, payload)
}

func liveBinding(sh *shard, w webrtc.TrackLocalWriter) *binding {
	bd := &binding{kind: pipeline.Video, ssrc: 1, pt: 96, w: w, shard: sh, state: bindLive}
	bd.armed.Store(true)
	sh.add(bd)
	return bd
}

// runBroadcaster runs b until the test ends and returns how to stop it.
func runBroadcaster(t *testing.T, b *broadcaster) (stop func()) {
	run := testkit.Start(t, "broadcaster", func(ctx context.Context) error { b.run(ctx); return nil })
	return func() {
		if err := run.Stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// writeWait writes a frame to the stream and waits until the broadcaster
// has packetised it.
func writeWait(t *testing.T, b *broadcaster, f *pipeline.Frame) {
	t.Helper()
	before := b.frames.Load()
	b.stream.Write(f)
	deadline := time.Now().Add(10 * time.Second)
	for b.frames.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("the frame was not packetised within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestViewersSpreadAcrossShards(t *testing.T) {
	b, track := testBroadcaster(t, 4)
	var viewers []*shard
	for range 10 {
		viewers = append(viewers, b.assign())
	}
	counts := map[int]int{}
	for _, sh := range viewers {
		counts[sh.lane]++
	}
	for i := range 4 {
		if c := counts[i]; c < 2 || c > 3 {
			t.Fatalf("shard %d has %d of 10 viewers, want 2 or 3: %v", i, c, counts)
		}
	}
	// Shard 0 loses its viewers: the next ones go there.
	for _, sh := range viewers {
		if sh == b.shards[0] {
			b.unassign(sh)
		}
	}
	if sh := b.assign(); sh != b.shards[0] {
		t.Errorf("a new viewer went to shard %d, not to the empty shard 0", sh.lane)
	}

	// Every shard writes every packet to its viewers, from its own
	// goroutine.
	var ws []*countingWriter
	for _, sh := range b.shards {
		for range 2 {
			w := &countingWriter{}
			ws = append(ws, w)
			liveBinding(sh, w)
		}
	}
	runBroadcaster(t, b)
	fs := frames(track, 30)
	for _, f := range fs {
		writeWait(t, b, f)
	}
	want := int64(b.packets.Load())
	testkit.Eventually(t, 10*time.Second, "every viewer to get every packet", func() bool {
		for _, w := range ws {
			if w.pkts.Load() != want {
				return false
			}
		}
		return true
	})
	for _, sh := range b.shards {
		if sh.sends.Load() != uint64(2*want) {
			t.Errorf("shard %d wrote %d packets, want %d", sh.lane, sh.sends.Load(), 2*want)
		}
	}
}

// TestStalledViewerDoesNotStallOthers: one viewer's writes hang. The
// stream goes on being packetised, the viewers on other shards get every
// packet, and the stalled shard, once free, skips what it missed (counted)
// and starts its viewer again at the next keyframe.
func TestStalledViewerDoesNotStallOthers(t *testing.T) {
	track := &pipeline.Track{Codec: pipeline.H264, SPS: []byte{0x67, 0x42, 0xc0, 0x1e}, PPS: []byte{0x68, 1}}
	s := pipeline.NewStream("test", track)
	defer s.Close()
	b := newBroadcaster(s, false, Config{Senders: 2, VideoRing: 256}.withDefaults(), slog.New(slog.DiscardHandler), newBatchGroup(2))
	stalled := &stallingWriter{stalled: make(chan struct{}), released: make(chan struct{})}
	healthy := &countingWriter{}
	liveBinding(b.shards[0], stalled)
	liveBinding(b.shards[1], healthy)
	stop := runBroadcaster(t, b)
	released := false
	defer func() {
		if !released {
			close(stalled.released)
		}
		stop()
	}()

	fs := frames(track, 2)
	key, delta := fs[0], fs[1]
	writeWait(t, b, key) // the stream's reader starts at a keyframe
	<-stalled.stalled
	// 200 frames of 2 packets: far past a quarter of the 256-packet ring.
	for range 200 {
		writeWait(t, b, delta)
	}
	want := int64(b.packets.Load())
	testkit.Eventually(t, 10*time.Second, "the healthy viewer to get every packet", func() bool { return healthy.pkts.Load() == want })

	close(stalled.released)
	released = true
	testkit.Eventually(t, 10*time.Second, "the stalled shard to skip ahead", func() bool { return b.shards[0].dropped.Load() > 0 })
	before := stalled.pkts.Load()
	writeWait(t, b, delta)
	time.Sleep(50 * time.Millisecond)
	if got := stalled.pkts.Load() - before; got != 0 {
		t.Errorf("after skipping, the viewer got %d packets of a P-frame it cannot decode", got)
	}
	writeWait(t, b, key)
	testkit.Eventually(t, 10*time.Second, "the stalled viewer to restart at the keyframe", func() bool { return stalled.keys.Load() > 0 })
	if b.shards[1].dropped.Load() != 0 {
		t.Errorf("the healthy shard dropped %d packets", b.shards[1].dropped.Load())
	}
}

// TestShardsStopWithBroadcaster: the shard goroutines end with the
// broadcaster.
func TestShardsStopWithBroadcaster(t *testing.T) {
	before := goleak.IgnoreCurrent()
	b, track := testBroadcaster(t, 4)
	for _, sh := range b.shards {
		liveBinding(sh, &countingWriter{})
	}
	stop := runBroadcaster(t, b)
	for _, f := range frames(track, 3) {
		writeWait(t, b, f)
	}
	stop()
	goleak.VerifyNone(t, before)
}

// slowWriter is a viewer whose writes take a while: it makes its shard
// fall behind, as a busy machine would.
type slowWriter struct{ countingWriter }

func (w *slowWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	time.Sleep(200 * time.Microsecond)
	return w.countingWriter.WriteRTP(h, payload)
}

// firstWriteWatcher records how many packets its shard still had to write
// when the viewer got its first packet.
type firstWriteWatcher struct {
	countingWriter
	sh      *shard
	pending chan uint64
}

func (w *firstWriteWatcher) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.pkts.Load() == 0 {
		w.pending <- w.sh.pending()
	}
	return w.countingWriter.WriteRTP(h, payload)
}

// TestJoinWhileBehind: a shard with a backlog (a busy machine) still
// starts a joining viewer without first writing it all.
func TestJoinWhileBehind(t *testing.T) {
	b, track := testBroadcaster(t)
	sh := b.shards[0]
	liveBinding(sh, &slowWriter{})
	fs := frames(track, 2)
	for i := range 400 {
		f := *fs[min(i, 1)]
		f.PTS = time.Duration(i) * time.Millisecond
		b.stream.Write(&f)
	}
	runBroadcaster(t, b)
	testkit.Eventually(t, 10*time.Second, "the shard to start on its backlog", func() bool { return sh.sends.Load() > 0 })

	w := &firstWriteWatcher{sh: sh, pending: make(chan uint64, 1)}
	bd := &binding{kind: pipeline.Video, ssrc: 2, pt: 96, w: w, shard: sh}
	bd.armed.Store(true)
	sh.add(bd)
	sh.poke()
	select {
	case p := <-w.pending:
		if p == 0 {
			t.Error("the viewer started only after the whole backlog was written")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the viewer never started")
	}
}

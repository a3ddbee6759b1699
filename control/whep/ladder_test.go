package whep

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"diemcau/internal/lossyudp"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

func TestLadderControl(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	type step struct {
		at         float64
		cur        int
		loss, remb float64
		sent       float64
		want       int
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"one lossy report is not enough", []step{{1, 0, 0.2, 0, 2000, 0}, {2, 0, 0, 0, 2000, 0}, {3, 0, 0.2, 0, 2000, 0}}},
		{"two in a row move down", []step{{1, 0, 0.2, 0, 2000, 0}, {2, 0, 0.1, 0, 2000, 1}}},
		{"heavy loss moves down at once", []step{{1, 0, 0.4, 0, 2000, 1}}},
		{"a low REMB moves down once settled and three in a row", []step{
			{1, 0, 0, 0.3e6, 2000, 0}, {2, 0, 0, 0.3e6, 2000, 0}, {3, 0, 0, 0.3e6, 2000, 0}, {4, 0, 0, 0.3e6, 2000, 0}, // climbing
			{11, 0, 0, 0.8e6, 2000, 0}, {12, 0, 0, 0.8e6, 2000, 0}, {13, 0, 0, 1.5e6, 2000, 0}, // a good one breaks the run
			{14, 0, 0, 0.8e6, 2000, 0}, {15, 0, 0, 0.8e6, 2000, 0}, {16, 0, 0, 0.8e6, 2000, 1},
		}},
		{"up after 8 s clean", []step{{1, 0, 0.2, 0, 2000, 0}, {2, 0, 0.2, 0, 2000, 1}, {3, 1, 0, 0, 400, 1}, {10, 1, 0.01, 0, 400, 1}, {11, 1, 0, 0, 400, 0}}},
		{"a lossy report restarts the wait", []step{{1, 1, 0, 0, 400, 1}, {6, 1, 0.05, 0, 400, 1}, {10, 1, 0, 0, 400, 1}, {17, 1, 0, 0, 400, 1}, {18, 1, 0, 0, 400, 0}}},
		{"REMB does not hold a viewer down", []step{{1, 1, 0, 0.6e6, 400, 1}, {9, 1, 0, 0.6e6, 400, 0}}},
		{"a failed try up doubles the wait", []step{
			{1, 1, 0, 0, 400, 1}, {9, 1, 0, 0, 400, 0}, // up after 8 s
			{10, 0, 0.1, 0, 2000, 0}, {11, 0, 0.1, 0, 2000, 1}, // down again within the trial
			{12, 1, 0, 0, 400, 1}, {21, 1, 0, 0, 400, 1}, {28, 1, 0, 0, 400, 0}, // now 16 s
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newLadderControl(2)
			for i, s := range tc.steps {
				if got := c.report(at(s.at), s.cur, s.loss, s.remb, s.sent); got != s.want {
					t.Fatalf("step %d (%+v): wants %d", i, s, got)
				}
			}
		})
	}
	if newLadderControl(1).report(t0, 0, 0.9, 0, 1000) != 0 {
		t.Error("a stream without renditions moved a viewer")
	}
}

// ladderResolver serves one session with a low rendition.
type ladderResolver struct {
	*testResolver
	low *pipeline.Stream
}

func (r ladderResolver) SessionLow(id, point string) *pipeline.Stream {
	if id == "demo" && point == "" {
		return r.low
	}
	return nil
}

// ladderFeed writes the same pictures to a main stream (about 2 Mbit/s)
// and a low one (about 400 kbit/s), as the mixer's two encoders: one
// time, each rung's keyframes when asked for or every 2 s. Payloads carry
// 'M' or 'L' so a viewer can tell which it gets.
type ladderFeed struct {
	main, low         *pipeline.Stream
	mainKey, lowKey   atomic.Bool
	mainTrack, lowTrk *pipeline.Track
}

func newLadderFeed(t *testing.T) *ladderFeed {
	f := &ladderFeed{
		mainTrack: &pipeline.Track{Codec: pipeline.H264, SPS: []byte{0x67, 0x42, 0xc0, 0x1f, 1}, PPS: []byte{0x68, 1}, Width: 1280, Height: 720, FPS: 30},
		lowTrk:    &pipeline.Track{Codec: pipeline.H264, SPS: []byte{0x67, 0x42, 0xc0, 0x1f, 2}, PPS: []byte{0x68, 2}, Width: 640, Height: 360, FPS: 30},
	}
	f.main, f.low = pipeline.NewStream("demo", f.mainTrack), pipeline.NewStream("demo/low", f.lowTrk)
	f.main.SetKeyframeRequester(func() { f.mainKey.Store(true) })
	f.low.SetKeyframeRequester(func() { f.lowKey.Store(true) })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f.run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		f.main.Close()
		f.low.Close()
	})
	return f
}

func (f *ladderFeed) run(ctx context.Context) {
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	start := time.Now()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pts := time.Since(start)
		every := n%60 == 0
		frame := func(t *pipeline.Track, tag byte, size int, key bool) *pipeline.Frame {
			nal := bytes.Repeat([]byte{tag}, size)
			nal[0] = 0x41
			if key {
				nal[0] = 0x65
			}
			return &pipeline.Frame{Track: t, PTS: pts, Key: key, NALUs: [][]byte{nal}}
		}
		// The low encoder is done first, as a smaller picture's is.
		f.low.Write(frame(f.lowTrk, 'L', 1600, every || f.lowKey.Swap(false)))
		f.main.Write(frame(f.mainTrack, 'M', 8300, every || f.mainKey.Swap(false)))
	}
}

// ladderViewer notes, per video packet, when it came and from which rung.
type ladderViewer struct {
	mu     sync.Mutex
	frames []ladderFrame // one per marker packet
}

type ladderFrame struct {
	at  time.Time
	tag byte
}

func (v *ladderViewer) last() (ladderFrame, int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.frames) == 0 {
		return ladderFrame{}, 0
	}
	return v.frames[len(v.frames)-1], len(v.frames)
}

// since is the frames from time t on.
func (v *ladderViewer) since(t time.Time) []ladderFrame {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []ladderFrame
	for _, f := range v.frames {
		if !f.at.Before(t) {
			out = append(out, f)
		}
	}
	return out
}

// TestViewerFollowsBandwidth: a pion viewer (with its receiver reports)
// watches a session with a low rendition through a UDP relay that holds
// each datagram 20 ms (its status reads the 40 ms round trip). When the
// relay narrows to 800 kbit/s the viewer is moved to the low rendition
// within 5 s and its pictures flow without a stall from the move on; when
// the limit lifts it is moved back. The streams (the encoders) are the
// same throughout.
func TestViewerFollowsBandwidth(t *testing.T) {
	feed := newLadderFeed(t)
	res := ladderResolver{testResolver: newTestResolver(), low: feed.low}
	res.sessions["demo"] = feed.main
	srv, err := New(Config{ListenIPs: []string{"127.0.0.1"}, DisableTCP: true}, testLogger(t), res, testAuth)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	testkit.Start(t, "whep server", srv.Run).WaitReady(srv.Ready(), 10*time.Second)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	media := srv.UDPAddrs()[0].String()
	relay, err := lossyudp.StartDelayed(media, 0, 20*time.Millisecond) // a 40 ms round trip
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	api, err := clientAPI(clientOpts{interceptors: true})
	if err != nil {
		t.Fatal(err)
	}
	pc, offer, err := makeOffer(api, false)
	if err != nil {
		t.Fatal(err)
	}
	lv := &ladderViewer{}
	var readers sync.WaitGroup
	defer func() {
		_ = pc.Close()
		readers.Wait()
	}()
	pc.OnTrack(func(tr *webrtc.TrackRemote, rcv *webrtc.RTPReceiver) {
		readers.Go(func() {
			// pion's receiver reports learn our sender reports (for the
			// round trip) only from RTCP the application reads.
			for {
				if _, _, err := rcv.ReadRTCP(); err != nil {
					return
				}
			}
		})
		readers.Go(func() {
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				if p.Marker && len(p.Payload) > 3 {
					lv.mu.Lock()
					lv.frames = append(lv.frames, ladderFrame{at: time.Now(), tag: p.Payload[len(p.Payload)-1]})
					lv.mu.Unlock()
				}
			}
		})
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/whep/sessions/demo", strings.NewReader(offer))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/sdp")
	client := &http.Client{Timeout: 10 * time.Second, Transport: viaRelay{media: media, relay: relay.Addr()}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var answer bytes.Buffer
	_, _ = answer.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.StatusCode, answer.String())
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer.String()}); err != nil {
		t.Fatal(err)
	}
	wait := func(what string, d time.Duration, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > d {
				f, n := lv.last()
				t.Fatalf("%s: not within %v (%d frames, the last %q at %v)", what, d, n, f.tag, f.at.Format("15:04:05.000"))
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	on := func(tag byte) func() bool {
		return func() bool { f, _ := lv.last(); return f.tag == tag && time.Since(f.at) < 200*time.Millisecond }
	}
	wait("the main rendition", 20*time.Second, on('M'))
	time.Sleep(3 * time.Second)

	narrowed := time.Now()
	relay.SetRate(800_000)
	took := wait("the move down", 5*time.Second, on('L'))
	t.Logf("moved down %v after the link narrowed to 800 kbit/s (%d datagrams lost to the limit)", took.Round(time.Millisecond), relay.Limited())
	time.Sleep(3 * time.Second)
	// Until the move the main rendition's pictures are broken (the link
	// loses their ends): what counts is how soon the move comes, and that
	// nothing stalls from its keyframe on.
	checkFlow(t, lv, narrowed, 'L', false)
	vs := srv.ViewerStats("demo")
	if len(vs) != 1 || vs[0].Rendition != "low" || vs[0].Moves != 1 || vs[0].RTTMS < 35 || vs[0].RTTMS > 150 || vs[0].BandwidthKbps <= 0 {
		t.Errorf("viewer status on the low rendition: %+v", vs)
	} else {
		t.Logf("viewer status on the low rendition: %+v", vs[0])
	}

	widened := time.Now()
	relay.SetRate(0)
	took = wait("the move up", 20*time.Second, on('M'))
	t.Logf("moved up %v after the limit lifted", took.Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	checkFlow(t, lv, widened, 'M', true)
	if vs := srv.ViewerStats("demo"); len(vs) != 1 || vs[0].Rendition != "main" || vs[0].Moves != 2 {
		t.Errorf("viewer status back on the main rendition: %+v", vs)
	} else {
		t.Logf("viewer status back on the main rendition: %+v", vs[0])
	}
	if n := feed.main.Stats().Readers; n == 0 {
		t.Error("the main stream lost its reader")
	}
}

// stallGap is a gap between pictures a viewer sees as a freeze: a 30 fps
// stream's pictures come 33 ms apart, a busy test machine (the race
// detector) stretches that to about 100 ms now and then.
const stallGap = 400 * time.Millisecond

// checkFlow: from the first frame of rung tag after from, frames came at
// most stallGap apart (the move was at a keyframe), all of that rung; with
// clean, the old rung's last frame came at most stallGap before the new
// one's first too.
func checkFlow(t *testing.T, lv *ladderViewer, from time.Time, tag byte, clean bool) {
	t.Helper()
	fs := lv.since(from)
	first := -1
	for i, f := range fs {
		if f.tag == tag {
			first = i
			break
		}
	}
	if first < 1 {
		t.Fatalf("no frame of %q after %v, or none before it", tag, from)
	}
	// The move itself: the last frame of the old rung and the first of
	// the new one.
	if gap := fs[first].at.Sub(fs[first-1].at); clean && gap > stallGap {
		t.Errorf("a %v stall at the move to %q", gap.Round(time.Millisecond), tag)
	}
	var worst time.Duration
	for i := first + 1; i < len(fs); i++ {
		if fs[i].tag != tag {
			t.Fatalf("a frame of %q after the move to %q", fs[i].tag, tag)
		}
		worst = max(worst, fs[i].at.Sub(fs[i-1].at))
	}
	t.Logf("after the move to %q: %d frames, the longest gap %v", tag, len(fs)-first, worst.Round(time.Millisecond))
	if worst > stallGap {
		t.Errorf("a %v stall after the move to %q", worst.Round(time.Millisecond), tag)
	}
}

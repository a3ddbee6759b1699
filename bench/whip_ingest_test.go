package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"

	"diemcau/bench/whipclient"
	"diemcau/control/whep"
	"diemcau/ingest"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// envPublishers makes the test binary the publishers of
// BenchmarkIngestWHIPvsPush: "push|whip URL N".
const envPublishers = "DIEMCAU_BENCH_PUBLISHERS"

// BenchmarkIngestWHIPvsPush is the CPU the server spends per ingested
// 720p 25 fps 2 Mbit/s stream, published over WHIP (DTLS-SRTP, NACK,
// TWCC, the jitter buffer) and over RTSP push (RTP over UDP), the same
// clip both ways. The publishers run in a child process; the figure is
// the server process only. One op is one second: -benchtime=5x.
func BenchmarkIngestWHIPvsPush(b *testing.B) {
	for _, n := range []int{1, 4} {
		b.Run("push/"+strconv.Itoa(n), func(b *testing.B) { benchPublishIngest(b, "push", n) })
		b.Run("whip/"+strconv.Itoa(n), func(b *testing.B) { benchPublishIngest(b, "whip", n) })
	}
}

func benchPublishIngest(b *testing.B, kind string, n int) {
	loadIngestClip(b)
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sources []ingest.Source
	var url string
	switch kind {
	case "push":
		srv, err := ingest.NewServer(ingest.ServerConfig{Listen: "127.0.0.1:0"}, log)
		if err != nil {
			b.Fatal(err)
		}
		testkit.Start(b, "rtsp server", srv.Run).WaitReady(srv.Listening(), time.Minute)
		for i := range n {
			p, err := ingest.NewPushSource(ingest.PushConfig{ID: fmt.Sprintf("s%d", i), URL: "push://enc:secret@"}, log)
			if err != nil {
				b.Fatal(err)
			}
			if err := srv.AddPushSource(p); err != nil {
				b.Fatal(err)
			}
			sources = append(sources, p)
		}
		url = "rtsp://enc:secret@" + srv.Addr().String()
	case "whip":
		srv, err := whep.New(whep.Config{ListenIPs: []string{"127.0.0.1"}, DisableTCP: true}, log, noStreams{}, func(*http.Request, whep.Target) (whep.Grant, bool) { return whep.Grant{}, false })
		if err != nil {
			b.Fatal(err)
		}
		testkit.Start(b, "whep server", srv.Run).WaitReady(srv.Ready(), time.Minute)
		byID := map[string]*ingest.WHIPSource{}
		for i := range n {
			w, err := ingest.NewWHIPSource(ingest.WHIPConfig{ID: fmt.Sprintf("s%d", i), URL: "whip://"}, log)
			if err != nil {
				b.Fatal(err)
			}
			byID[w.ID()] = w
			sources = append(sources, w)
		}
		srv.EnableWHIP(func(id string) (*ingest.WHIPSource, bool) { w, ok := byID[id]; return w, ok },
			func(*http.Request, string) (whep.Grant, error) { return whep.Grant{Who: "bench"}, nil })
		hs := httptest.NewServer(srv.Handler())
		defer hs.Close()
		url = hs.URL
	}
	for _, s := range sources {
		testkit.Start(b, "source "+s.ID(), s.Run)
	}
	time.Sleep(100 * time.Millisecond) // sources running before publishers come

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestIngestPublishers$", "-test.v")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", envPublishers, kind, url, n))
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	waitAllOnline(b, kind+" streams", sources)
	time.Sleep(2 * time.Second) // past the first keyframe and the bitrate ramp

	frames0 := framesOf(sources)
	cpu, wall := measureSeconds(b)
	frames := framesOf(sources) - frames0
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(n), "%core/stream")
	b.ReportMetric(float64(frames)/wall.Seconds()/float64(n), "frames/s/stream")
}

// noStreams: the benchmark's WHEP server has no viewers.
type noStreams struct{}

func (noStreams) Source(string) (*pipeline.Stream, bool) { return nil, false }
func (noStreams) Session(string, string) (*pipeline.Stream, error) {
	return nil, whep.ErrNotFound
}

// TestIngestPublishers is the child process of BenchmarkIngestWHIPvsPush:
// N publishers of the 720p clip, over RTSP push or WHIP, until killed.
func TestIngestPublishers(t *testing.T) {
	spec := strings.Fields(os.Getenv(envPublishers))
	if len(spec) != 3 {
		t.Skip("child process of BenchmarkIngestWHIPvsPush")
	}
	kind, url := spec[0], spec[1]
	n, _ := strconv.Atoi(spec[2])
	clip := loadIngestClip(t)
	ctx := context.Background()
	switch kind {
	case "whip":
		api, err := whipclient.NewAPI()
		if err != nil {
			t.Fatal(err)
		}
		wc := clip.whipClip()
		for i := range n {
			if _, err := whipclient.Publish(ctx, api, fmt.Sprintf("%s/whip/ingest/s%d", url, i), "bench", wc, whipclient.Options{NoAudio: true}); err != nil {
				t.Fatal(err)
			}
		}
	case "push":
		pkts, pts := clip.packets(t)
		var clients []*gortsplib.Client
		medias := []*description.Media{}
		for i := range n {
			m := &description.Media{Type: description.MediaTypeVideo}
			m.Formats = append(m.Formats, clip.format())
			c := &gortsplib.Client{}
			if err := c.StartRecording(fmt.Sprintf("%s/ingest/s%d", url, i), &description.Session{Medias: []*description.Media{m}}); err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
			medias = append(medias, m)
		}
		start := time.Now()
		loopTicks := int64(len(clip.aus) * 3600)
		for i := 0; ; i++ {
			k := i % len(pkts)
			ts := pts[k] + int64(i/len(pkts))*loopTicks
			if wait := time.Duration(ts)*time.Second/90000 - time.Since(start); wait > 0 {
				time.Sleep(wait)
			}
			for j, c := range clients {
				p := *pkts[k]
				p.Timestamp = uint32(ts)
				p.SequenceNumber = uint16(i)
				_ = c.WritePacketRTP(medias[j], &p)
			}
		}
	}
	select {} // until the parent kills this process
}

// whipClip is the 720p clip as a WHIP publisher sends it: parameter sets
// kept apart (the publisher puts them before every keyframe).
func (c *ingestClip) whipClip() *whipclient.Clip {
	wc := &whipclient.Clip{SPS: c.sps, PPS: c.pps, FPS: 25}
	for _, au := range c.aus {
		var nalus [][]byte
		key := false
		for _, n := range au {
			switch n[0] & 0x1f {
			case 7, 8:
				continue
			case 5:
				key = true
			}
			nalus = append(nalus, n)
		}
		wc.AUs, wc.Keys = append(wc.AUs, nalus), append(wc.Keys, key)
	}
	return wc
}

// BenchmarkWHIPLoss is what a WHIP publisher of the 720p 2 Mbit/s clip
// keeps through a link that loses 1, 5 or 10 % of its packets each way
// and delays each by up to 20 ms: the pictures that reach the source's
// stream (after NACK retransmission, the jitter buffer, and the pictures
// dropped until the next keyframe when a packet is lost for good) against
// those sent. One op is one second: -benchtime=10x.
func BenchmarkWHIPLoss(b *testing.B) {
	for _, loss := range []float64{0.01, 0.05, 0.10} {
		b.Run(fmt.Sprintf("loss=%.0f%%", loss*100), func(b *testing.B) { benchWHIPLoss(b, loss) })
	}
}

func benchWHIPLoss(b *testing.B, loss float64) {
	clip := loadIngestClip(b).whipClip()
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := whep.New(whep.Config{ListenIPs: []string{"127.0.0.1"}, DisableTCP: true}, log, noStreams{}, func(*http.Request, whep.Target) (whep.Grant, bool) { return whep.Grant{}, false })
	if err != nil {
		b.Fatal(err)
	}
	testkit.Start(b, "whep server", srv.Run).WaitReady(srv.Ready(), time.Minute)
	src, err := ingest.NewWHIPSource(ingest.WHIPConfig{ID: "xa", URL: "whip://"}, log)
	if err != nil {
		b.Fatal(err)
	}
	testkit.Start(b, "whip source", src.Run)
	srv.EnableWHIP(func(string) (*ingest.WHIPSource, bool) { return src, true },
		func(*http.Request, string) (whep.Grant, error) { return whep.Grant{Who: "bench"}, nil })
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	relay, err := whipclient.NewRelay(nil, loss, 20*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	defer relay.Close()
	api, err := whipclient.NewAPI()
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	pub, err := whipclient.Publish(ctx, api, hs.URL+"/whip/ingest/xa", "bench", clip, whipclient.Options{Relay: relay, NoAudio: true})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close(context.Background())
	deadline := time.Now().Add(30 * time.Second)
	for src.Status().State != ingest.StateOnline {
		if time.Now().After(deadline) {
			b.Fatal("not online after 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	r := src.Stream().NewReader(pipeline.ReaderConfig{Name: "bench", Queue: 4096})
	defer r.Close()
	sent0, net0 := pub.Pictures(), *src.Status().Net
	b.ResetTimer()
	for range b.N {
		time.Sleep(time.Second)
	}
	b.StopTimer()
	sent := pub.Pictures() - sent0
	net := *src.Status().Net
	var kept uint64
	for f := r.TryRead(); f != nil; f = r.TryRead() {
		if f.Track != nil && f.Track.Kind() == pipeline.Video {
			kept++
		}
	}
	// The pictures in flight at either end (jitter buffer, queue) are
	// within a frame or two; the ratio is what a viewer of the point sees.
	b.ReportMetric(100*float64(kept)/float64(sent), "%pictures_kept")
	b.ReportMetric(float64(net.PicturesDropped-net0.PicturesDropped), "pictures_dropped")
	b.ReportMetric(float64(net.NACKsSent-net0.NACKsSent)/float64(b.N), "nacks/s")
	lost, recv := net.PacketsLost-net0.PacketsLost, net.PacketsReceived-net0.PacketsReceived
	b.ReportMetric(100*float64(lost)/float64(lost+recv), "%packets_lost_after_nack")
}

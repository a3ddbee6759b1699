package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"diemcau/ingest"
	srtin "diemcau/ingest/srt"
	"diemcau/internal/lossyudp"
	"diemcau/pipeline"
)

// srtBenchPassphrase is the sources' passphrase: AES on, as in the field.
const srtBenchPassphrase = "bench-srt-passphrase"

// srtClip is 10 s of 1280x720 25 fps H.264 at 2 Mbit/s (one keyframe a
// second, no B-frames) with 128 kbit/s AAC, as MPEG-TS: what a hardware
// encoder sends. ffmpeg replays it with -c copy, so the sender costs
// little and runs in its own process: the benchmark's CPU is the server's.
func srtClip(b *testing.B) string {
	b.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		b.Skip("ffmpeg not installed")
	}
	out, _ := exec.Command("ffmpeg", "-hide_banner", "-protocols").CombinedOutput()
	if !strings.Contains(string(out), "srt") {
		b.Skip("ffmpeg without libsrt")
	}
	clip := filepath.Join(b.TempDir(), "clip.ts")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
		"-t", "10", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "25", "-sc_threshold", "0",
		"-b:v", "2M", "-maxrate", "2M", "-bufsize", "1M", "-c:a", "aac", "-b:a", "128k", "-f", "mpegts", clip).CombinedOutput(); err != nil {
		b.Fatalf("encoding the clip: %v\n%s", err, out)
	}
	// The same clip as MP4 for RTSP, which wants AAC's config up front
	// (MPEG-TS carries it in every ADTS header instead).
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", clip, "-c", "copy",
		strings.TrimSuffix(clip, ".ts")+".mp4").CombinedOutput(); err != nil {
		b.Fatalf("remuxing the clip: %v\n%s", err, out)
	}
	return clip
}

// ingestRig is an RTSP server and an SRT listener with n push:// and n
// srt:// sources, as serve wires them.
type ingestRig struct {
	reg      *ingest.Registry
	rtsp     *ingest.Server
	srt      *srtin.Server
	rtspAddr string
	srtAddr  string
}

func startIngestRig(b *testing.B, n int) *ingestRig {
	b.Helper()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("DIEMCAU_BENCH_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	rtsp, err := ingest.NewServer(ingest.ServerConfig{Listen: fmt.Sprintf("127.0.0.1:%d", freePort(b)), UDPRTPAddress: "off"}, log)
	if err != nil {
		b.Fatal(err)
	}
	reg := ingest.NewRegistry(log, rtsp, nil)
	srt, err := srtin.New(srtin.Config{Listen: "127.0.0.1:0", Latency: 200 * time.Millisecond}, log, reg.Get)
	if err != nil {
		b.Fatal(err)
	}
	reg.SetFactory("srt", srt.NewSourceFactory())
	for i := range n {
		for _, sc := range []ingest.SourceConfig{
			{ID: fmt.Sprintf("push%d", i), URL: "push://enc:s3cret@"},
			{ID: fmt.Sprintf("srt%d", i), URL: "srt://:" + srtBenchPassphrase + "@"},
		} {
			if _, err := reg.Add(sc); err != nil {
				b.Fatal(err)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{rtsp.Run, srt.Run, reg.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	b.Cleanup(func() { cancel(); wg.Wait() })
	<-rtsp.Listening()
	<-srt.Listening()
	return &ingestRig{reg: reg, rtsp: rtsp, srt: srt, rtspAddr: rtsp.Addr().String(), srtAddr: srt.Addr().String()}
}

// sendClip starts ffmpeg replaying the clip to one source, over RTSP
// (push) or SRT; loop repeats it until the benchmark ends.
func sendClip(b *testing.B, clip, kind, addr, id string, loop bool) *exec.Cmd {
	b.Helper()
	args := []string{"-hide_banner", "-loglevel", "error", "-re"}
	if loop {
		args = append(args, "-stream_loop", "-1")
	}
	if kind == "push" {
		clip = strings.TrimSuffix(clip, ".ts") + ".mp4"
	}
	args = append(args, "-i", clip, "-c", "copy")
	switch kind {
	case "push":
		args = append(args, "-f", "rtsp", "-rtsp_transport", "tcp", fmt.Sprintf("rtsp://enc:s3cret@%s/ingest/%s", addr, id))
	default:
		args = append(args, "-f", "mpegts", fmt.Sprintf("srt://%s?streamid=ingest/%s&passphrase=%s&pbkeylen=16&latency=200000", addr, id, srtBenchPassphrase))
	}
	cmd := exec.Command("ffmpeg", args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func waitOnline(b *testing.B, reg *ingest.Registry, ids []string) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			st, _ := reg.Status(id)
			if st.State == ingest.StateOnline {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: %s %q after 30 s", id, st.State, st.Error)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// BenchmarkIngestSRTvsPush: the server's CPU per ingested 720p 2 Mbit/s
// stream (H.264 + AAC), one and four streams at once, RTSP push against SRT with
// AES (the same clip; ffmpeg sends it with -c copy from its own process).
//
//	go test -run '^$' -bench IngestSRTvsPush -benchtime 8x ./bench/
func BenchmarkIngestSRTvsPush(b *testing.B) {
	clip := srtClip(b)
	for _, c := range []struct {
		kind string
		n    int
	}{{"push", 1}, {"srt", 1}, {"push", 4}, {"srt", 4}} {
		kind, n := c.kind, c.n
		b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
			rig := startIngestRig(b, n)
			addr := rig.rtspAddr
			if kind == "srt" {
				addr = rig.srtAddr
			}
			var ids []string
			for i := range n {
				id := fmt.Sprintf("%s%d", kind, i)
				ids = append(ids, id)
				sendClip(b, clip, kind, addr, id, true)
			}
			waitOnline(b, rig.reg, ids)
			time.Sleep(time.Second) // past the connections' start
			frames := func() (f uint64) {
				for _, id := range ids {
					st, _ := rig.reg.Status(id)
					f += st.Frames
				}
				return f
			}
			frames0, cpu0, wall0 := frames(), processCPU(), time.Now()
			b.ResetTimer()
			for range b.N {
				time.Sleep(time.Second)
			}
			b.StopTimer()
			cpu, wall := processCPU()-cpu0, time.Since(wall0)
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(n), "%core/stream")
			b.ReportMetric(float64(frames()-frames0)/wall.Seconds()/float64(n), "frames/s/stream")
		})
	}
}

// BenchmarkSRTLoss: the share of the clip's video frames that reach the
// stream through a link losing 1, 5 and 10 % of its datagrams each way,
// with the default 200 ms latency, on loopback and on a 50 ms round trip;
// one 10 s clip per run.
//
//	go test -run '^$' -bench SRTLoss -benchtime 1x ./bench/
func BenchmarkSRTLoss(b *testing.B) {
	clip := srtClip(b)
	for _, c := range []struct {
		loss  float64
		delay time.Duration // each way
	}{{0.01, 0}, {0.05, 0}, {0.10, 0}, {0.01, 25 * time.Millisecond}, {0.05, 25 * time.Millisecond}, {0.10, 25 * time.Millisecond}} {
		loss := c.loss
		b.Run(fmt.Sprintf("%.0f%%/rtt%s", 100*loss, 2*c.delay), func(b *testing.B) {
			var kept, dropped, retrans, lost float64
			for range b.N {
				rig := startIngestRig(b, 1)
				relay, err := lossyudp.StartDelayed(rig.srtAddr, loss, c.delay)
				if err != nil {
					b.Fatal(err)
				}
				stream, _ := rig.reg.Stream("srt0")
				tally := tallyVideo(stream)
				cmd := sendClip(b, clip, "srt", relay.Addr(), "srt0", false)
				_ = cmd.Wait()
				time.Sleep(500 * time.Millisecond)
				relay.Close()
				got, span := tally.stop()
				// The clip's frames in the span that arrived: an encoder that
				// hangs up takes its last latency's worth with it, loss or not.
				kept += 100 * float64(got) / float64(span)
				st, _ := rig.reg.Status("srt0")
				if st.SRT != nil {
					dropped += float64(st.SRT.PacketsDropped)
					retrans += float64(st.SRT.PacketsRetransmitted)
					lost += float64(st.SRT.PacketsLost)
				}
				b.Logf("loss %.0f%%: %d of %d frames in the span (%d in the clip); relay dropped %d of %d datagrams; srt %+v",
					100*loss, got, span, 250, relay.Dropped(), relay.Dropped()+relay.Passed(), st.SRT)
			}
			n := float64(b.N)
			b.ReportMetric(kept/n, "%frames_kept")
			b.ReportMetric(lost/n, "pkts_lost")
			b.ReportMetric(retrans/n, "pkts_retrans")
			b.ReportMetric(dropped/n, "pkts_dropped")
		})
	}
}

// videoTally counts the video frames written to a stream, and the span
// of the clip they cover in frames (first to last, 25 fps).
type videoTally struct {
	rd     *pipeline.Reader
	cancel context.CancelFunc
	done   chan struct{}
	n      int
	first  time.Duration
	last   time.Duration
}

func tallyVideo(s *pipeline.Stream) *videoTally {
	ctx, cancel := context.WithCancel(context.Background())
	t := &videoTally{rd: s.NewReader(pipeline.ReaderConfig{Name: "bench", Queue: 4096}), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		for {
			f, err := t.rd.Read(ctx)
			if err != nil || f == nil {
				return
			}
			if f.Track.Kind() != pipeline.Video {
				continue
			}
			if t.n == 0 {
				t.first = f.PTS
			}
			t.n++
			t.last = f.PTS
		}
	}()
	return t
}

func (t *videoTally) stop() (frames, span int) {
	t.cancel()
	t.rd.Close()
	<-t.done
	if t.n == 0 {
		return 0, 1
	}
	return t.n, int((t.last-t.first)/(40*time.Millisecond)) + 1
}

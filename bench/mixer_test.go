package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"

	"diemcau/internal/testkit"
	"diemcau/mixer"
	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// Composite benchmark scenario (issue: "4 inputs of 720p30 into a 720p30
// composite in real time; CPU within 10% of the bare gst-launch pipeline;
// pipeline latency p95 under 150 ms").
const (
	compInputs  = 4
	compW       = 1280
	compH       = 720
	compFPS     = 30
	compBitrate = 2500
	compWarmup  = 3 * time.Second
)

// compSeconds is the measured window: DIEMCAU_BENCH_SECONDS, default 10.
func compSeconds() time.Duration {
	if n, err := strconv.Atoi(os.Getenv("DIEMCAU_BENCH_SECONDS")); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 10 * time.Second
}

type compFigures struct {
	fps      float64
	cores    float64 // CPU time / wall time
	goCores  float64 // ours only: the share of cores on Go's threads (see goThreadsCPU)
	rssMiB   float64
	p50, p95 time.Duration // ours only
}

// BenchmarkComposite runs four 720p30 cameras (one pre-encoded 2.5 Mbit/s
// loop with an Opus tone, replayed in real time) through the mixer into a
// 720p30 x264 composite with labels, clock, slates standing by, the full
// mix and four mix-minus; then the same composite as a bare gst-launch-1.0
// pipeline (the same H.264 and Opus from files, paced by clocksync) in the
// same run, and reports both and their CPU ratio.
//
//	go test -run '^$' -bench BenchmarkComposite -benchtime=1x ./bench/
func BenchmarkComposite(b *testing.B) {
	for _, e := range []string{"x264enc", "compositor", "audiomixer", "opusenc", "clocksync", "fpsdisplaysink"} {
		if !gst.HasElement(e) {
			b.Skipf("%s not installed", e)
		}
	}
	if _, err := exec.LookPath("gst-launch-1.0"); err != nil {
		b.Skip("gst-launch-1.0 not installed")
	}
	window := compSeconds()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	loop, err := gst.EncodeLoop(ctx, gst.LoopConfig{
		TestPicture: gst.TestPicture{Width: compW, Height: compH, FPS: compFPS},
		BitrateKbps: compBitrate, Seconds: 4, Audio: gst.AudioOpus,
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	clip := writeClip(b, loop, compWarmup+window+5*time.Second)
	tone := writeOpusClip(b, loop, compWarmup+window+5*time.Second)

	var ours, bare compFigures
	b.ResetTimer()
	for range b.N {
		ours = runOurComposite(b, ctx, loop, window)
		bare = runBareComposite(b, ctx, clip, tone, window)
	}
	b.StopTimer()
	b.ReportMetric(ours.fps, "fps")
	b.ReportMetric(ours.cores, "cores")
	b.ReportMetric(ours.goCores, "go-cores")
	b.ReportMetric(ours.rssMiB, "MiB")
	b.ReportMetric(float64(ours.p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(ours.p95.Microseconds())/1000, "p95-ms")
	b.ReportMetric(bare.fps, "bare-fps")
	b.ReportMetric(bare.cores, "bare-cores")
	b.ReportMetric(bare.rssMiB, "bare-MiB")
	if bare.cores > 0 {
		b.ReportMetric(ours.cores/bare.cores, "cpu-ratio")
	}
	b.Logf("ours: %.1f fps, %.2f cores (%.3f on Go threads), %.0f MiB, latency p50 %v p95 %v",
		ours.fps, ours.cores, ours.goCores, ours.rssMiB, ours.p50, ours.p95)
	b.Logf("bare: %.1f fps, %.2f cores, %.0f MiB", bare.fps, bare.cores, bare.rssMiB)
}

// runOurComposite measures the mixer over window after a warm-up.
func runOurComposite(b *testing.B, ctx context.Context, loop *gst.Loop, window time.Duration) compFigures {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg := mixer.Config{Session: "bench", Output: mixer.Output{Width: compW, Height: compH, FPS: compFPS, BitrateKbps: compBitrate}}
	var wg sync.WaitGroup
	for i := range compInputs {
		s := pipeline.NewStream(fmt.Sprintf("cam%d", i), loop.Video, loop.Audio)
		cfg.Points = append(cfg.Points, mixer.Point{ID: fmt.Sprintf("p%d", i), Label: fmt.Sprintf("Điểm cầu %d", i), Stream: s})
		wg.Add(1)
		go func() {
			defer wg.Done()
			replayLoop(ctx, loop, s)
		}()
	}
	m, err := mixer.New(cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	run := testkit.Start(b, "mixer", m.Run)
	defer func() {
		if err := run.Stop(); err != nil {
			b.Error(err)
		}
		cancel()
		wg.Wait()
	}()
	time.Sleep(compWarmup)
	cpu0, go0, f0, t0 := processCPU(), goThreadsCPU(), m.Stats().Frames, time.Now()
	time.Sleep(window)
	st := m.Stats()
	el := time.Since(t0)
	return compFigures{
		fps:     float64(st.Frames-f0) / el.Seconds(),
		cores:   (processCPU() - cpu0).Seconds() / el.Seconds(),
		goCores: (goThreadsCPU() - go0).Seconds() / el.Seconds(),
		rssMiB:  rssMiB(os.Getpid()),
		p50:     st.LatencyP50,
		p95:     st.LatencyP95,
	}
}

// replayLoop writes the loop into s in real time, as a camera would.
func replayLoop(ctx context.Context, l *gst.Loop, s *pipeline.Stream) {
	start := time.Now()
	var vi, ai int64
	wait := time.NewTimer(0)
	defer wait.Stop()
	for ctx.Err() == nil {
		now := time.Since(start)
		for l.FramePTS(vi) <= now {
			f := l.VideoFrames[vi%int64(len(l.VideoFrames))]
			pts := l.FramePTS(vi)
			s.Write(&pipeline.Frame{Track: l.Video, PTS: pts, DTS: pts, Wall: time.Now(), Key: f.Key, NALUs: f.NALUs})
			vi++
		}
		for l.Audio != nil && l.AudioPTS(ai) <= now {
			f := l.AudioFrames[ai%int64(len(l.AudioFrames))]
			pts := l.AudioPTS(ai)
			s.Write(&pipeline.Frame{Track: l.Audio, PTS: pts, DTS: pts, Wall: time.Now(), Key: true, Payload: f.Payload})
			ai++
		}
		// Sleep until the next frame is due, like a camera's packets: a
		// polling replayer would charge the mixer for its own wake-ups.
		next := l.FramePTS(vi)
		if l.Audio != nil {
			next = min(next, l.AudioPTS(ai))
		}
		wait.Reset(next - time.Since(start))
		select {
		case <-ctx.Done():
		case <-wait.C:
		}
	}
}

// writeClip writes the loop's video, repeated to last d, as an Annex-B file
// for the bare pipeline.
func writeClip(b *testing.B, l *gst.Loop, d time.Duration) string {
	path := filepath.Join(b.TempDir(), "clip.h264")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for n := 0; time.Duration(n)*l.FrameDuration < d; n++ {
		for _, u := range l.VideoFrames[n%len(l.VideoFrames)].NALUs {
			w.Write([]byte{0, 0, 0, 1})
			w.Write(u)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// writeOpusClip writes the loop's Opus frames, repeated to last d, as an
// Ogg file for the bare pipeline.
func writeOpusClip(b *testing.B, l *gst.Loop, d time.Duration) string {
	path := filepath.Join(b.TempDir(), "tone.ogg")
	w, err := oggwriter.New(path, 48000, uint16(max(l.Audio.Channels, 1)))
	if err != nil {
		b.Fatal(err)
	}
	for n := int64(0); l.AudioPTS(n) < d; n++ {
		f := l.AudioFrames[n%int64(len(l.AudioFrames))]
		p := &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(n), Timestamp: uint32(n * int64(l.AudioFrameSamples))}, Payload: f.Payload}
		if err := w.WriteRTP(p); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// bareLaunch is the mixer's own composite pipeline (gst.MixLaunch) with the
// Go parts replaced by plain elements: the same H.264 and Opus from files
// (paced by clocksync) instead of appsrc branches, tiles and labels set as
// launch properties, and the encoder linked straight in instead of
// through Go.
func bareLaunch(clip, tone string) string {
	spec := gst.MixSpec{Width: compW, Height: compH, FPS: compFPS, Points: compInputs}
	l := gst.MixLaunch(spec)
	var pads strings.Builder
	tiles := mixer.Arrange(mixer.Grid, compInputs, 0, compW, compH)
	for i, t := range tiles {
		fmt.Fprintf(&pads, " sink_%d::xpos=%d sink_%d::ypos=%d sink_%d::width=%d sink_%d::height=%d sink_%d::zorder=%d sink_%d::sizing-policy=keep-aspect-ratio sink_%d::alpha=0",
			1+i, t.X, 1+i, t.Y, 1+i, t.W, 1+i, t.H, 1+i, t.Z, 1+i, 1+compInputs+i)
		l = strings.Replace(l, fmt.Sprintf(`name=label%d silent=true text=""`, i),
			fmt.Sprintf(`name=label%d silent=false text="Điểm cầu %d" deltax=%d deltay=%d`, i, i, t.X+4, t.Y+t.H-4-compH), 1)
		// Each picture scaled to its tile before the compositor, as the
		// mixer sets it once the layout is applied.
		l = strings.Replace(l, fmt.Sprintf(`name=vcaps%d caps="video/x-raw,format=I420,width=16,height=16,`, i),
			fmt.Sprintf(`name=vcaps%d caps="video/x-raw,format=I420,width=%d,height=%d,`, i, t.W, t.H), 1)
		l = strings.Replace(l, fmt.Sprintf("funnel name=vin%d", i),
			fmt.Sprintf("filesrc location=%s ! h264parse ! avdec_h264 ! videoconvert ! clocksync", clip), 1)
		l = strings.Replace(l, fmt.Sprintf("funnel name=ain%d", i),
			fmt.Sprintf("filesrc location=%s ! oggdemux ! opusdec plc=true ! audioconvert ! audioresample ! capsfilter caps=%q ! clocksync",
				tone, gst.MixAudioCaps), 1)
	}
	l = strings.Replace(l, "compositor name=comp", "compositor name=comp"+pads.String(), 1)
	// Nobody reads the mixer's return feeds here, so it encodes no
	// mix-minus; neither does the bare pipeline.
	l = regexp.MustCompile(`(name=mm[0-9]+valve) drop=false`).ReplaceAllString(l, "$1 drop=true")
	var x264 string
	for _, c := range gst.Encoders() {
		if c.Name == "x264" {
			x264 = c.EncoderFragment(gst.EncoderParams{Width: compW, Height: compH, FPS: compFPS, BitrateKbps: compBitrate})
		}
	}
	raw := regexp.MustCompile(`appsink name=raw( [a-z-]+=[^ ]+)*`)
	l = raw.ReplaceAllString(l, "queue max-size-buffers=3 leaky=downstream ! "+x264+
		" ! fpsdisplaysink video-sink=fakesink text-overlay=false sync=false fps-update-interval=100")
	audio := regexp.MustCompile(`appsink name=[a-z0-9]+( [a-z-]+=[^ ]+)*`)
	return audio.ReplaceAllString(l, "fakesink sync=false async=false")
}

// runBareComposite runs bareLaunch in gst-launch-1.0 and measures it over
// window after the warm-up.
func runBareComposite(b *testing.B, ctx context.Context, clip, tone string, window time.Duration) compFigures {
	// Through the shell, exactly as an operator would type it; exec keeps
	// the pid gst-launch's own for the CPU figures.
	cmd := exec.CommandContext(ctx, "sh", "-c", "exec gst-launch-1.0 -v "+bareLaunch(clip, tone))
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var rendered atomic.Int64
	done := make(chan struct{})
	var lastLines []string
	go func() {
		defer close(done)
		re := regexp.MustCompile(`rendered: (\d+),`)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				n, _ := strconv.ParseInt(m[1], 10, 64)
				rendered.Store(n)
			} else if len(lastLines) < 20 && strings.Contains(sc.Text(), "ERROR") {
				lastLines = append(lastLines, sc.Text())
			}
		}
	}()
	time.Sleep(compWarmup)
	pid := cmd.Process.Pid
	cpu0, f0, t0 := childCPU(pid), rendered.Load(), time.Now()
	time.Sleep(window)
	el := time.Since(t0)
	fig := compFigures{
		fps:    float64(rendered.Load()-f0) / el.Seconds(),
		cores:  (childCPU(pid) - cpu0).Seconds() / el.Seconds(),
		rssMiB: rssMiB(pid),
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	<-done
	_ = cmd.Wait()
	if fig.fps == 0 {
		b.Errorf("bare pipeline made no pictures: %v", lastLines)
	}
	return fig
}

// goThreadsCPU is the CPU time of this process's threads that still carry
// the program's own name: the Go runtime's threads (goroutines, and the C
// they call through cgo). GStreamer names its streaming threads after
// their pads ("comp:src") and its pools "pool-…"; threads an element starts
// inherit those names. So this is the mixer's Go side plus the replay that
// stands in for ingest, apart from the GStreamer work, which the bare
// pipeline does too.
func goThreadsCPU() time.Duration {
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		return 0
	}
	tasks, _ := filepath.Glob("/proc/self/task/*")
	var sum time.Duration
	for _, t := range tasks {
		name, err := os.ReadFile(t + "/comm")
		if err != nil || string(name) != string(comm) {
			continue
		}
		// schedstat: nanoseconds on the CPU, then waiting, then slices.
		st, err := os.ReadFile(t + "/schedstat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(st)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			sum += time.Duration(ns)
		}
	}
	return sum
}

// childCPU is a running process's user+system CPU time, from /proc.
func childCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// rssMiB is a process's resident memory now.
func rssMiB(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

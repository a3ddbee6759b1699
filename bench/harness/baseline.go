package harness

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"diemcau/pipeline/gst"
)

// barePipeline is the composite's elements as one gst-launch-1.0 line: each
// camera pulled, depayloaded, parsed, decoded and scaled into its tile of a
// grid, the compositor at the output size and rate, the encoder, and a
// sink that counts frames. No labels, clock, audio or RTSP re-serve: what
// our server adds costs the difference. The audio the server makes even
// for points that send none (the full mix and one mix-minus per point,
// encoded) runs beside it as bareAudio.
func barePipeline(camBase string, n int, o Options, decoder, encoder string) string {
	// The grid as the mixer draws it: as square as the count allows, a
	// short last row centred, each picture letterboxed in its tile.
	cols := int(math.Ceil(math.Sqrt(float64(n))))
	rows := (n + cols - 1) / cols
	tw, th := (o.OutWidth/cols)&^1, (o.OutHeight/rows)&^1
	var b strings.Builder
	b.WriteString("compositor name=mix background=black")
	for i := range n {
		row, col, inRow := i/cols, i%cols, cols
		if row == rows-1 {
			inRow = n - row*cols
		}
		x0 := ((o.OutWidth - inRow*tw) / 2) &^ 1
		fmt.Fprintf(&b, " sink_%d::xpos=%d sink_%d::ypos=%d", i, x0+col*tw, i, row*th)
	}
	fmt.Fprintf(&b, " ! video/x-raw,width=%d,height=%d,framerate=%d/1 ! videoconvert ! video/x-raw,format=I420 ! %s ! h264parse"+
		" ! fpsdisplaysink name=out video-sink=fakesink text-overlay=false signal-fps-measurements=true fps-update-interval=100 sync=false",
		o.OutWidth, o.OutHeight, o.FPS, bareEncoder(encoder, o))
	for i := range n {
		fmt.Fprintf(&b, " rtspsrc location=%s/cam%d protocols=tcp latency=200 ! rtph264depay ! h264parse ! %s ! videoconvert ! videoscale"+
			" ! video/x-raw,width=%d,height=%d,pixel-aspect-ratio=1/1 ! mix.sink_%d", camBase, i+1, orDefault(decoder, "avdec_h264"), tw, th, i)
	}
	return b.String()
}

// bareEncoder sets the encoder as the server sets it where we know its
// properties; other elements run with their defaults.
func bareEncoder(element string, o Options) string {
	switch element {
	case "", "x264enc":
		return fmt.Sprintf("x264enc speed-preset=ultrafast tune=zerolatency bframes=0 key-int-max=%d bitrate=%d", 2*o.FPS, o.OutKbps)
	case "openh264enc":
		return fmt.Sprintf("openh264enc complexity=low rate-control=bitrate bitrate=%d", o.OutKbps*1000)
	}
	return element
}

// bareAudio is the composite's audio as the server builds it for n points
// that send no sound, in gst-launch-1.0 syntax: with it the bare figure
// carries the same audio work as the server's ("ours/bare+audio").
func bareAudio(n int, o Options) string {
	return gst.MixAudioLaunch(gst.MixSpec{Width: o.OutWidth, Height: o.OutHeight, FPS: o.FPS, Points: n})
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

var renderedRE = regexp.MustCompile(`rendered: (\d+), dropped: (\d+)`)

// runBaseline runs the bare pipeline on the same cameras, warms it up and
// measures it for the same window as ours.
func (e *env) runBaseline(ctx context.Context, camBase string, n int, decoder, encoder string) (*Baseline, error) {
	o := e.opts
	launch, err := exec.LookPath("gst-launch-1.0")
	if err != nil {
		return nil, fmt.Errorf("gst-launch-1.0 not found: %w", err)
	}
	pipeline := barePipeline(camBase, n, o, decoder, encoder)
	var mu sync.Mutex
	var rendered uint64
	onLine := func(line string) {
		if m := renderedRE.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseUint(m[1], 10, 64)
			mu.Lock()
			rendered = v
			mu.Unlock()
		}
	}
	count := func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return rendered
	}
	// -v prints the sink's counts; -X keeps RTP statistics out of it.
	argv := append([]string{launch, "-v", "-X", "stats", "-X", "caps"}, strings.Fields(pipeline)...)
	p, err := e.group.Start("gst-launch", argv, onLine)
	if err != nil {
		return nil, err
	}
	defer p.Stop(5 * time.Second)
	e.progress("baseline: starting gst-launch-1.0")
	if err := waitFor(ctx, time.Minute, "baseline frames", []*Proc{p}, func() bool { return count() > 0 }); err != nil {
		return nil, err
	}
	audioLine := bareAudio(n, o)
	ap, err := e.group.Start("gst-launch-audio", append([]string{launch, "-q"}, strings.Fields(audioLine)...), func(string) {})
	if err != nil {
		return nil, err
	}
	defer ap.Stop(5 * time.Second)
	if err := e.sleep(ctx, o.Warmup, "baseline warming up"); err != nil {
		return nil, err
	}
	if exited(ap) {
		return nil, fmt.Errorf("bare audio: %w", ap.ExitError())
	}
	pid, apid := strconv.Itoa(p.PID()), strconv.Itoa(ap.PID())
	a0, t0 := readCPU(apid), readThreads(pid)
	c0, n0 := readCPU(pid), count()
	deadline := time.Now().Add(o.Seconds)
	for time.Now().Before(deadline) {
		if exited(p) {
			return nil, p.ExitError()
		}
		if exited(ap) {
			return nil, fmt.Errorf("bare audio: %w", ap.ExitError())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
		e.progress("baseline measuring %.0f s left · %.2f cores", time.Until(deadline).Seconds(), cores(c0, readCPU(pid)))
	}
	c1, n1, t1 := readCPU(pid), count(), readThreads(pid)
	a1 := readCPU(apid)
	peak, _ := memStatus(pid)
	win := c1.At.Sub(c0.At).Seconds()
	return &Baseline{
		Pipeline:      "gst-launch-1.0 " + pipeline,
		CPU:           cores(c0, c1),
		PeakRSS:       peak,
		FPS:           float64(n1-n0) / win,
		WindowS:       win,
		AudioPipeline: "gst-launch-1.0 " + audioLine,
		AudioCPU:      cores(a0, a1),
		Threads:       threadGroups(t0, t1),
	}, nil
}

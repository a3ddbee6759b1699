package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/rtcp"

	"diemcau/pipeline"
)

// DefaultProbeDuration is how long Probe reads when not told.
const DefaultProbeDuration = 5 * time.Second

// probeConnectBudget is how long Probe waits for the first frame before it
// reports what it has; a camera with a very long GOP is still caught.
const probeConnectBudget = 10 * time.Second

// ProbeReport is what a technician needs to know about one feed before a
// session: what it carries, how well, and whether browsers can play it.
// It never carries credentials.
type ProbeReport struct {
	URL       string `json:"url"`
	Connected bool   `json:"connected"`
	// Error is why the probe could not connect, or why the feed broke off.
	Error     string  `json:"error,omitempty"`
	Transport string  `json:"transport,omitempty"`
	Seconds   float64 `json:"seconds"` // how long frames were read

	Video           *ProbeVideo  `json:"video,omitempty"`
	Audio           *AudioInfo   `json:"audio,omitempty"`
	BitrateKbps     float64      `json:"bitrate_kbps"`
	PacketsLost     uint64       `json:"packets_lost"`
	BrowserPlayable bool         `json:"browser_playable"`
	Clock           *ProbeClock  `json:"clock,omitempty"` // media clock rate, camera clock offset
	Checks          []ProbeCheck `json:"checks"`
	Verdict         CheckResult  `json:"verdict"`
	// Sub is the report of the camera's sub-stream, read at the same time,
	// when there is one (probe --sub, a source with a sub_url).
	Sub *ProbeReport `json:"sub,omitempty"`
}

// ProbeVideo is the video as measured, not as the camera claims.
type ProbeVideo struct {
	Codec       string  `json:"codec"`
	Profile     string  `json:"profile,omitempty"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	FPS         float64 `json:"fps"`
	GOPSeconds  float64 `json:"gop_s"` // mean time between keyframes; 0 when fewer than two were seen
	BitrateKbps float64 `json:"bitrate_kbps"`
	BFrames     bool    `json:"bframes"`
	Keyframes   int     `json:"keyframes"`
	Frames      int     `json:"frames"`
}

// CheckResult grades one check, and the feed as a whole.
type CheckResult string

// Check results, from best to worst.
const (
	CheckPass CheckResult = "pass"
	CheckWarn CheckResult = "warn"
	CheckFail CheckResult = "fail"
)

// ProbeCheck is one check with the reason for its result.
type ProbeCheck struct {
	Name    string      `json:"name"`
	Result  CheckResult `json:"result"`
	Message string      `json:"message"`
}

// Probe connects to one RTSP URL, reads it for d (from the first frame), and
// reports what it carries with checks and a verdict. It returns an error
// only when it could not connect at all (unreachable, refused, wrong
// password, not RTSP); a feed that connects but fails checks is a report
// with Verdict fail. Either way the report is filled as far as it goes and
// its messages are free of credentials. transport is auto, tcp or udp.
func Probe(ctx context.Context, rawURL string, d time.Duration, transport string) (ProbeReport, error) {
	return ProbeWith(ctx, rawURL, d, ProbeOptions{Transport: transport})
}

// ProbeOptions tune ProbeWith.
type ProbeOptions struct {
	// Transport is auto, tcp or udp.
	Transport string
	// Relayed says the URL is diemcau's own re-serve of a source
	// (rtsp://…/sources/{id}). Its RTCP sender reports carry the server's
	// clock, so the camera's clock offset is not judged there; its media
	// clock (rate drift) still is, the re-serve keeping the camera's
	// timestamps.
	Relayed bool
}

// ProbeWith is Probe with options.
func ProbeWith(ctx context.Context, rawURL string, d time.Duration, opts ProbeOptions) (ProbeReport, error) {
	rep := ProbeReport{URL: RedactURL(rawURL), Verdict: CheckFail, Checks: []ProbeCheck{}}
	if d <= 0 {
		d = DefaultProbeDuration
	}
	cfg := PullConfig{ID: "probe", URL: rawURL, Transport: opts.Transport}
	if err := cfg.Validate(); err != nil {
		rep.Error = err.Error()
		return rep, fmt.Errorf("probe: %s", rep.Error)
	}
	if cfg.Transport == "" {
		cfg.Transport = TransportAuto
	}

	col := &probeCollector{firstFrame: make(chan struct{}), relayed: opts.Relayed}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runPullSession(sctx, pullSessionConfig{id: cfg.ID, url: cfg.URL, transport: cfg.Transport},
			slog.New(slog.DiscardHandler), col.hooks())
	}()

	var sessErr error
	budget := time.NewTimer(d + probeConnectBudget)
	defer budget.Stop()
	var readFor <-chan time.Time
	first := col.firstFrame
wait:
	for {
		select {
		case sessErr = <-done:
			break wait
		case <-first:
			first = nil
			t := time.NewTimer(d)
			defer t.Stop()
			readFor = t.C
		case <-readFor:
			break wait
		case <-budget.C:
			break wait
		case <-ctx.Done():
			cancel()
			<-done
			rep.Error = "probe cancelled"
			return rep, ctx.Err()
		}
	}
	if sessErr == nil {
		cancel()
		<-done
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	rep.Transport = col.transport
	rep.PacketsLost = col.lost
	if sessErr != nil && !col.connected {
		fail := classifyPullError(sessErr, rawURL)
		if fail.kind != failCodec {
			rep.Error = fail.msg
			return rep, fmt.Errorf("could not connect to %s: %s", rep.URL, fail.msg)
		}
		// It answered, with nothing diemcau can use: a failed check, not
		// a connection problem.
		rep.Connected = true
		rep.Checks = append(rep.Checks, ProbeCheck{Name: "codec", Result: CheckFail, Message: fail.msg})
		rep.Verdict = CheckFail
		return rep, nil
	}
	rep.Connected = true
	if sessErr != nil {
		rep.Error = classifyPullError(sessErr, rawURL).msg
	}
	col.report(&rep, sessErr != nil)
	return rep, nil
}

// probeCollector gathers what a probe session delivers.
type probeCollector struct {
	mu         sync.Mutex
	firstFrame chan struct{}
	relayed    bool
	clock      clockMeter
	connected  bool
	transport  string
	lost       uint64
	video      *pipeline.Track
	audio      *pipeline.Track

	start, end           time.Time
	vFrames, keys        int
	vBytes, aBytes       int
	minPTS, maxPTS       time.Duration
	firstKey, lastKey    time.Duration
	lastPTS              time.Duration
	reordered, haveVideo bool
}

func (c *probeCollector) hooks() pullHooks {
	return pullHooks{
		tracks: func(ts []*pipeline.Track) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.connected = true
			for _, t := range ts {
				switch t.Kind() {
				case pipeline.Video:
					c.video = t
				case pipeline.Audio:
					c.audio = t
				}
			}
		},
		frame:     c.frame,
		transport: func(tr string) { c.mu.Lock(); c.transport = tr; c.mu.Unlock() },
		lost:      func(n uint64) { c.mu.Lock(); c.lost += n; c.mu.Unlock() },
		senderReport: func(sr *rtcp.SenderReport, at time.Time) {
			c.mu.Lock()
			c.clock.senderReport(sr, at)
			c.mu.Unlock()
		},
	}
}

func (c *probeCollector) frame(f *pipeline.Frame) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() {
		// The window opens on the first video frame (a keyframe, up to a
		// GOP after connecting): audio alone before it would shorten the
		// video's share of the window and understate its rate.
		if c.video != nil && f.Track.Kind() != pipeline.Video {
			return
		}
		c.start = now
		close(c.firstFrame)
	}
	c.end = now
	arrival := f.Wall
	if arrival.IsZero() {
		arrival = now
	}
	c.clock.frame(f, arrival)
	if f.Track.Kind() != pipeline.Video {
		c.aBytes += f.Size()
		return
	}
	c.vBytes += f.Size()
	if !c.haveVideo {
		c.minPTS, c.maxPTS, c.haveVideo = f.PTS, f.PTS, true
	} else if f.PTS < c.lastPTS {
		c.reordered = true
	}
	if f.PTS != f.DTS {
		c.reordered = true
	}
	c.minPTS, c.maxPTS = min(c.minPTS, f.PTS), max(c.maxPTS, f.PTS)
	c.lastPTS = f.PTS
	c.vFrames++
	if f.Key {
		if c.keys == 0 {
			c.firstKey = f.DTS
		}
		c.lastKey = f.DTS
		c.keys++
	}
}

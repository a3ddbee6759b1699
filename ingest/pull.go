package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"

	"diemcau/pipeline"
)

// Transports of a pull source.
const (
	TransportAuto = "auto" // UDP, falling back to TCP when no packet arrives
	TransportTCP  = "tcp"
	TransportUDP  = "udp"
)

// failureSummaryEvery is how often a failure that keeps repeating is logged
// again at Info: one line a minute instead of one per retry.
const failureSummaryEvery = time.Minute

// PullConfig is one IP camera or encoder that diemcau pulls RTSP from.
type PullConfig struct {
	// ID names the source in the API and in paths (pipeline.ValidID).
	ID string
	// Name is shown to people; optional.
	Name string
	// URL is rtsp://[user:pass@]host[:port]/path (or rtsps://). Basic and
	// Digest authentication are both handled.
	URL string
	// Transport is auto (default), tcp or udp.
	Transport string
	// Feed is where the frames go (the registry's, kept across restarts);
	// nil: the source makes its own (see Feed: nobody closes it).
	Feed *Feed
}

// Validate names the first bad field.
func (c PullConfig) Validate() error {
	if !pipeline.ValidID(c.ID) {
		return fmt.Errorf("id: %q: want %s", c.ID, pipeline.IDRule)
	}
	if c.URL == "" {
		return errors.New("url: missing")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		// The parser's message may quote part of the password.
		return fmt.Errorf("url: %q is not a valid URL", RedactURL(c.URL))
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return fmt.Errorf("url: not an RTSP URL: scheme %q (use rtsp:// or rtsps://)", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("url: no host")
	}
	switch c.Transport {
	case "", TransportAuto, TransportTCP, TransportUDP:
	default:
		return fmt.Errorf("transport: %q must be auto, tcp or udp", c.Transport)
	}
	if c.Transport == TransportUDP && u.Scheme == "rtsps" {
		return errors.New("transport: rtsps:// works over tcp only")
	}
	return nil
}

// PullSource pulls RTSP from one camera and keeps pulling: it reconnects
// whenever the camera drops, and writes every frame into one Stream that
// outlives the reconnections.
type PullSource struct {
	cfg     PullConfig
	log     *slog.Logger
	stream  *pipeline.Stream
	tracker *Tracker

	// mu serialises frames of all medias: gortsplib delivers UDP medias on
	// separate goroutines.
	online atomic.Bool // frames flow in the current session
	clock  *timeline   // PTS continue across reconnections (and restarts)

	mu          sync.Mutex
	wasOnline   bool
	lastFailure pullFailure
	failures    int
	lastLogged  time.Time
}

// NewPullSource validates cfg and makes the source; nothing connects before
// Run.
func NewPullSource(cfg PullConfig, log *slog.Logger) (*PullSource, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingest %q: %w", cfg.ID, err)
	}
	if cfg.Transport == "" {
		cfg.Transport = TransportAuto
	}
	if log == nil {
		log = slog.Default()
	}
	feed := feedOf(cfg.Feed, cfg.ID)
	p := &PullSource{
		cfg:     cfg,
		log:     log.With("component", "ingest", "source", cfg.ID),
		stream:  feed.stream,
		clock:   &feed.clock,
		tracker: NewTracker(cfg.ID, cfg.Name, cfg.URL),
	}
	if cfg.Transport != TransportAuto {
		p.tracker.SetTransport(cfg.Transport)
	}
	return p, nil
}

// ID is the source's id.
func (p *PullSource) ID() string { return p.cfg.ID }

// Stream is where the source's frames go.
func (p *PullSource) Stream() *pipeline.Stream { return p.stream }

// Status is a snapshot of the source's state and counters.
func (p *PullSource) Status() Status { return p.tracker.Status() }

// Rename changes the name the status shows; the source goes on.
func (p *PullSource) Rename(name string) { p.tracker.SetName(name) }

// Tracker exposes the tracker, for metrics.
func (p *PullSource) Tracker() *Tracker { return p.tracker }

// Run connects and reconnects until ctx ends. It returns nil then, after
// every goroutine it started has stopped; the stream stays open (see Feed).
func (p *PullSource) Run(ctx context.Context) error {
	p.log.Info("pulling", "url", RedactURL(p.cfg.URL), "transport", p.cfg.Transport)
	delay := retryMin
	for {
		p.clock.reconnect()
		err := runPullSession(ctx, pullSessionConfig{
			id: p.cfg.ID, url: p.cfg.URL, transport: p.cfg.Transport, prevTracks: p.stream.Tracks(),
		}, p.log, p.hooks())
		if ctx.Err() != nil {
			p.setOffline("stopped")
			return nil
		}
		if err == nil {
			err = errors.New("the camera ended the session")
		}
		fail := classifyPullError(err, p.cfg.URL)
		wasConnected := p.noteFailure(fail)
		if wasConnected {
			delay = retryMin
		}
		wait := fail.retry
		if fail.retry <= retryMax {
			// Back off quickly up to one second: a camera that answers again
			// is back within about two seconds.
			wait = delay
			delay = min(delay*2, retryMax)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			p.setOffline("stopped")
			return nil
		case <-t.C:
		}
	}
}

func (p *PullSource) hooks() pullHooks {
	return pullHooks{
		tracks: func(ts []*pipeline.Track) {
			if !slices.Equal(ts, p.stream.Tracks()) {
				p.stream.SetTracks(ts)
			}
			p.tracker.SetTracks(ts)
		},
		frame: func(f *pipeline.Frame) {
			p.clock.shift(f)
			p.stream.Write(f)
			p.tracker.Frame(f)
			if !p.online.Load() {
				p.setOnline()
			}
		},
		transport: func(tr string) { p.tracker.SetTransport(tr) },
		lost:      func(n uint64) { p.tracker.Lost(n) },
		// The camera's own clock, which the pre-session check cannot see
		// through the re-serve.
		senderReport: func(sr *rtcp.SenderReport, arrival time.Time) { p.tracker.SenderReport(sr.NTPTime, arrival) },
	}
}

// setOnline is called from the packet path on the first frame of a session.
func (p *PullSource) setOnline() {
	p.online.Store(true)
	p.mu.Lock()
	reconnect := p.wasOnline
	p.wasOnline = true
	failures, last := p.failures, p.lastFailure
	p.failures, p.lastFailure = 0, pullFailure{}
	p.mu.Unlock()
	if reconnect {
		p.tracker.Reconnected()
	}
	p.tracker.SetState(StateOnline, "")
	st := p.tracker.Status()
	args := []any{"transport", st.Transport}
	if st.Video != nil {
		args = append(args, "video", fmt.Sprintf("%s %dx%d", st.Video.Codec, st.Video.Width, st.Video.Height))
	}
	if st.Audio != nil {
		args = append(args, "audio", st.Audio.Codec)
	}
	if failures > 0 {
		args = append(args, "after_failures", failures, "last_error", last.msg)
	}
	p.log.Info("source online", args...)
}

// noteFailure records a failed or ended session; it reports whether the
// session had been online. State changes are logged once; the same failure
// repeating is summarised once a minute.
func (p *PullSource) noteFailure(f pullFailure) bool {
	wasConnected := p.online.Swap(false)
	p.mu.Lock()
	same := p.failures > 0 && f.kind == p.lastFailure.kind && f.msg == p.lastFailure.msg
	p.failures++
	n := p.failures
	p.lastFailure = f
	logNow := !same || time.Since(p.lastLogged) >= failureSummaryEvery
	if logNow {
		p.lastLogged = time.Now()
	}
	p.mu.Unlock()

	p.tracker.SetState(f.state, f.msg)
	switch {
	case logNow && !same:
		p.log.Warn("source "+string(f.state), "error", f.msg, "retry_in", f.retry.String())
	case logNow:
		p.log.Info("source still "+string(f.state), "error", f.msg, "attempts", n)
	default:
		p.log.Debug("retry failed", "error", f.msg, "attempts", n)
	}
	return wasConnected
}

func (p *PullSource) setOffline(msg string) {
	p.online.Store(false)
	p.tracker.SetState(StateOffline, msg)
}

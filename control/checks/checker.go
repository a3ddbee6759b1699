// Package checks runs the pre-session connectivity checks Decision
// 354/QĐ-UBND-HC asks for (the day before and two hours before a session):
// every point's feed is probed, the WebRTC path is tried end to end, and the
// server's own readiness (encoder, disk, CPU) is assessed. Reports are kept
// in the store; a scheduler runs the T-24 h and T-2 h checks by itself.
package checks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"diemcau/control/store"
	"diemcau/ingest"
)

// Config tunes the checker.
type Config struct {
	// ProbeFor is how long each point's feed is read. Default 5 s.
	ProbeFor time.Duration
	// Leads are how long before scheduled_at the automatic checks run.
	// Default T-24h and T-2h.
	Leads map[string]time.Duration
	// Every is how often the scheduler looks. Default 1 minute.
	Every time.Duration
	// PlannedDuration is the session length assumed for the disk check
	// of a session that gives none. Default 4 h.
	PlannedDuration time.Duration
	// ArchiveRoot is where recordings go (its free space is checked).
	ArchiveRoot string
	// MinFree is the archive's archive.min_free: the recorder stops below
	// it, so only the space above it is usable.
	MinFree int64
}

// Validate fills defaults and checks values.
func (c *Config) Validate() error {
	if c.ProbeFor == 0 {
		c.ProbeFor = 5 * time.Second
	}
	if c.Leads == nil {
		c.Leads = map[string]time.Duration{store.CheckT24h: 24 * time.Hour, store.CheckT2h: 2 * time.Hour}
	}
	if c.Every == 0 {
		c.Every = time.Minute
	}
	if c.PlannedDuration == 0 {
		c.PlannedDuration = 4 * time.Hour
	}
	if c.ProbeFor < 0 || c.Every < 0 || c.PlannedDuration < 0 {
		return errors.New("checks: durations must be positive")
	}
	if c.MinFree < 0 {
		return errors.New("checks: MinFree: negative")
	}
	return nil
}

// Deps are what a check looks at.
type Deps struct {
	Store *store.Store
	// Source returns a source's live status.
	Source func(id string) (ingest.Status, bool)
	// Probe reads a source's feed (as the server receives it) for d.
	Probe func(ctx context.Context, sourceID string, d time.Duration) (ingest.ProbeReport, error)
	// WebRTC opens a WHEP viewer on the session's composite and returns once
	// a frame arrived; nil when the server has no WHEP.
	WebRTC func(ctx context.Context, sessionID string) error
	// Encoder names the composite encoder in use.
	Encoder func() (element string, hardware bool)
	// Sound is a point's sound as a running session's composite hears it;
	// false when the session is not running. nil: no sound check.
	Sound func(sessionID, pointID string) (Sound, bool)
	// Node is the latest report of the point node at a point, if the
	// point is one (node.go). nil: no point nodes.
	Node func(sessionID, pointID string) (NodeReport, bool)
}

// Checker runs checks on demand and on schedule.
type Checker struct {
	cfg  Config
	log  *slog.Logger
	deps Deps

	mu      sync.Mutex
	running map[string]bool // session ids with a check in progress
}

// New makes a checker; it starts nothing.
func New(cfg Config, log *slog.Logger, deps Deps) (*Checker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Source == nil || deps.Probe == nil {
		return nil, errors.New("checks: Store, Source and Probe are required")
	}
	return &Checker{cfg: cfg, log: log.With("component", "checks"), deps: deps, running: map[string]bool{}}, nil
}

// SetWebRTC installs the WebRTC leg (the WHEP server is made after the
// checker). Call before Run.
func (c *Checker) SetWebRTC(fn func(ctx context.Context, sessionID string) error) {
	c.deps.WebRTC = fn
}

// ErrBusy is returned when a check of the same session is already running.
var ErrBusy = errors.New("a check of this session is already running")

// Check runs one check of every point of a session now and stores its report.
func (c *Checker) Check(ctx context.Context, sessionID, kind string) (store.CheckReport, error) {
	c.mu.Lock()
	if c.running[sessionID] {
		c.mu.Unlock()
		return store.CheckReport{}, fmt.Errorf("session %q: %w", sessionID, ErrBusy)
	}
	c.running[sessionID] = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.running, sessionID)
		c.mu.Unlock()
	}()

	sess, err := c.deps.Store.GetSession(ctx, sessionID)
	if err != nil {
		return store.CheckReport{}, err
	}
	rep := store.CheckReport{SessionID: sessionID, Kind: kind, StartedAt: time.Now().UTC()}
	var pointKbps []float64
	rep.Points, pointKbps = c.checkPoints(ctx, sess)

	srv := c.checkServer(ctx, sess, pointKbps)
	raw, _ := json.Marshal(srv)
	rep.Server = raw
	rep.FinishedAt = time.Now().UTC()
	rep.Verdict = srv.Verdict
	for _, p := range rep.Points {
		rep.Verdict = worse(rep.Verdict, p.Verdict)
	}
	saved, err := c.deps.Store.AddCheck(context.WithoutCancel(ctx), rep)
	if err != nil {
		return rep, err
	}
	c.log.Info("check done", "session", sessionID, "kind", kind, "verdict", saved.Verdict, "n", saved.N)
	return saved, nil
}

// checkPoints probes every point at once: a check takes one probe's time,
// not one per point. It returns, beside the reports, each point's bitrate
// as measured (0: unknown) for the disk estimate.
func (c *Checker) checkPoints(ctx context.Context, sess store.Session) ([]store.PointCheck, []float64) {
	out := make([]store.PointCheck, len(sess.Points))
	kbps := make([]float64, len(sess.Points))
	var wg sync.WaitGroup
	for i, p := range sess.Points {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], kbps[i] = c.checkPoint(ctx, p)
			c.checkSound(sess.ID, &out[i])
			c.checkNode(sess, &out[i])
		}()
	}
	wg.Wait()
	return out, kbps
}

// checkPoint grades one point and returns its bitrate: the probe's
// measure, else the live status's, else 0.
func (c *Checker) checkPoint(ctx context.Context, p store.Point) (store.PointCheck, float64) {
	pc := store.PointCheck{PointID: p.ID, Source: p.Source, Verdict: store.VerdictPass, Reasons: []string{}}
	st, ok := c.deps.Source(p.Source)
	if !ok {
		pc.Verdict = store.VerdictFail
		pc.Reasons = append(pc.Reasons, fmt.Sprintf("source %q does not exist", p.Source))
		return pc, 0
	}
	if st.State == ingest.StateError || st.State == ingest.StateOffline || st.State == ingest.StateConnecting {
		pc.Verdict = store.VerdictFail
		msg := st.Error
		if msg == "" {
			msg = "no signal"
		}
		pc.Reasons = append(pc.Reasons, fmt.Sprintf("source %s (%s): %s", st.State, st.URL, msg))
		return pc, st.BitrateKbps
	}
	rep, err := c.deps.Probe(ctx, p.Source, c.cfg.ProbeFor)
	clock, haveClock := statusClockCheck(st)
	if haveClock {
		useStatusClock(&rep, st, clock)
	}
	if raw, jerr := json.Marshal(rep); jerr == nil {
		pc.Probe = raw
	}
	kbps := rep.BitrateKbps
	if kbps <= 0 {
		kbps = st.BitrateKbps
	}
	if err != nil {
		pc.Verdict = store.VerdictFail
		pc.Reasons = append(pc.Reasons, "probe: "+err.Error())
		if haveClock && clock.Result != ingest.CheckPass {
			pc.Reasons = append(pc.Reasons, clock.Message)
		}
		return pc, kbps
	}
	for _, chk := range rep.Checks {
		switch chk.Result {
		case ingest.CheckFail:
			pc.Verdict = worse(pc.Verdict, store.VerdictFail)
			pc.Reasons = append(pc.Reasons, chk.Message)
		case ingest.CheckWarn:
			pc.Verdict = worse(pc.Verdict, store.VerdictWarn)
			pc.Reasons = append(pc.Reasons, chk.Message)
		}
	}
	if st.PacketsLost > 0 {
		pc.Verdict = worse(pc.Verdict, store.VerdictWarn)
		pc.Reasons = append(pc.Reasons, fmt.Sprintf("%d RTP packets lost since the source connected", st.PacketsLost))
	}
	if st.Reconnects > 0 {
		pc.Verdict = worse(pc.Verdict, store.VerdictWarn)
		pc.Reasons = append(pc.Reasons, fmt.Sprintf("the feed dropped and reconnected %d times", st.Reconnects))
	}
	return pc, kbps
}

func worse(a, b string) string {
	rank := map[string]int{store.VerdictPass: 0, store.VerdictWarn: 1, store.VerdictFail: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

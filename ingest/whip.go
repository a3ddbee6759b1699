package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"diemcau/pipeline"
)

// Errors of WHIPSource.Publish.
var (
	// ErrPublisherBusy: the source has a live publisher already (HTTP 409).
	ErrPublisherBusy = errors.New("already has a live publisher")
	// ErrSourceStopped: the source is not running (being removed or
	// restarted); the publisher may retry.
	ErrSourceStopped = errors.New("source is not running")
)

const waitingForPublisher = "waiting for a WHIP publisher"

// whipConnectTimeout: a publisher that has sent no picture this long after
// its offer is dropped, freeing the source for another.
const whipConnectTimeout = 15 * time.Second

// WHIPConfig describes a source fed by a WebRTC publisher (a browser or an
// encoder) through POST /whip/ingest/{ID}.
type WHIPConfig struct {
	ID, Name string
	// URL is "whip://": the credentials (publish secret, point invites)
	// are the control plane's, not the URL's.
	URL string
	// Feed is where the frames go; nil: the source makes its own.
	Feed *Feed
}

// Validate names the first bad field.
func (c WHIPConfig) Validate() error {
	if !validSourceID(c.ID) {
		return fmt.Errorf("id: %q is not [a-z0-9-]+", c.ID)
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "whip" {
		return fmt.Errorf("url: want whip:// (got %s)", schemeOnly(c.URL))
	}
	if u.User != nil || u.Host != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("url: write just whip://; publishers POST to /whip/ingest/%s", c.ID)
	}
	return nil
}

// WHIPSource is a point whose picture and sound come over WebRTC. Like a
// PushSource it waits for a publisher, keeps its stream and timeline
// across publishers, and shows offline within publisherIdleTimeout of the
// publisher going silent, so its tile shows the slate.
type WHIPSource struct {
	id      string
	log     *slog.Logger
	stream  *pipeline.Stream
	clock   *timeline
	tracker *Tracker

	slot      PublisherSlot[*WHIPPublisher] // the rest below is under slot.mu too
	published bool
	net       NetStats // the last publisher's figures, kept after it leaves
	lostGone  uint64   // packets lost by the publishers that left: packets_lost never goes back
}

// NewWHIPSource validates cfg; it starts nothing.
func NewWHIPSource(cfg WHIPConfig, log *slog.Logger) (*WHIPSource, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("whip source %q: %w", cfg.ID, err)
	}
	if log == nil {
		log = slog.Default()
	}
	feed := feedOf(cfg.Feed, cfg.ID)
	w := &WHIPSource{
		id:      cfg.ID,
		log:     log.With("component", "whip-ingest", "source", cfg.ID),
		stream:  feed.stream,
		clock:   &feed.clock,
		tracker: NewTracker(cfg.ID, cfg.Name, cfg.URL),
	}
	w.tracker.SetState(StateConnecting, waitingForPublisher)
	return w, nil
}

// ID is the source id.
func (w *WHIPSource) ID() string { return w.id }

// Stream is the source's stream.
func (w *WHIPSource) Stream() *pipeline.Stream { return w.stream }

// Rename changes the name the status shows.
func (w *WHIPSource) Rename(name string) { w.tracker.SetName(name) }

// Status is the source's status, with the publisher's network figures.
func (w *WHIPSource) Status() Status {
	st := w.tracker.Status()
	w.slot.mu.Lock()
	pub, published, n, lost := w.slot.pub, w.published, w.net, w.lostGone
	w.slot.mu.Unlock()
	if pub != nil {
		n = pub.NetStats()
		lost += n.PacketsLost
	}
	if published {
		st.Net = &n
		st.PacketsLost = lost
	}
	return st
}

// Run lets publishers in until ctx ends and drops one that goes silent.
func (w *WHIPSource) Run(ctx context.Context) error {
	return w.slot.Run(ctx, w.tracker, "whip source", w.id, "no media from publisher", waitingForPublisher)
}

// Publish lets a publisher in: one at a time (ErrPublisherBusy), only
// while the source runs (ErrSourceStopped). end is how the source drops
// it (silence, the source stopping): it must close the peer connection,
// which then calls WHIPPublisher.Close. keyframe asks the publisher for a
// keyframe (RTCP PLI); readers of the stream reach it through
// Stream.RequestKeyframe.
func (w *WHIPSource) Publish(remote string, media WHIPMedia, end func(reason string), keyframe func()) (*WHIPPublisher, error) {
	pub, err := newWHIPPublisher(w, remote, media, end, keyframe)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", w.id, err)
	}
	w.slot.mu.Lock()
	defer w.slot.mu.Unlock()
	switch {
	case !w.slot.running:
		return nil, fmt.Errorf("source %q: %w", w.id, ErrSourceStopped)
	case w.slot.pub != nil:
		return nil, fmt.Errorf("source %q: %w", w.id, ErrPublisherBusy)
	}
	w.slot.pub = pub
	// The stream's PTS never go back when a publisher comes back.
	w.clock.reconnect()
	if w.published {
		w.tracker.Reconnected()
	}
	w.published = true
	w.stream.SetKeyframeRequester(keyframe)
	w.tracker.SetTransport("webrtc")
	w.tracker.SetState(StateConnecting, "publisher connecting")
	return pub, nil
}

// left detaches pub (it closed); the source shows offline.
func (w *WHIPSource) left(pub *WHIPPublisher, reason string) {
	w.slot.mu.Lock()
	if w.slot.pub != pub {
		w.slot.mu.Unlock()
		return
	}
	w.slot.pub = nil
	w.net = pub.NetStats()
	w.lostGone += w.net.PacketsLost
	running := w.slot.running
	w.slot.mu.Unlock()
	w.stream.SetKeyframeRequester(nil)
	pub.FlushErrors()
	w.log.Info("publisher gone", "remote", pub.remote, "reason", reason)
	switch {
	case !running:
	case pub.online.Load() || w.tracker.LastFrame() != (time.Time{}):
		w.tracker.SetState(StateOffline, reason)
	default:
		w.tracker.SetState(StateConnecting, waitingForPublisher+" (the last one left: "+reason+")")
	}
}

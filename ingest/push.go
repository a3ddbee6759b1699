package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"diemcau/pipeline"
)

const waitingForEncoder = "waiting for encoder"

// PushConfig describes a source fed by an encoder that publishes (RTSP
// ANNOUNCE/RECORD) to rtsp://HOST/ingest/{ID}.
type PushConfig struct {
	ID   string
	Name string
	// URL is "push://user:pass@": the encoder must authenticate (Basic or
	// Digest). "push://" lets anyone who reaches the port publish into the
	// source and its record, and is refused unless AllowAnonymous.
	URL string
	// AllowAnonymous accepts "push://" without credentials
	// (sources[].allow_anonymous).
	AllowAnonymous bool
	// Feed is where the frames go (the registry's, kept across restarts);
	// nil: the source makes its own.
	Feed *Feed
}

// Validate names the first bad field; the URL is never quoted with its
// password.
func (c PushConfig) Validate() error {
	if !validSourceID(c.ID) {
		return fmt.Errorf("id: %q: want %s", c.ID, pipeline.IDRule)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("url: cannot parse %q", RedactURL(c.URL))
	}
	if u.Scheme != "push" {
		return fmt.Errorf("url: want push:// (got %q)", RedactURL(c.URL))
	}
	if u.Host != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("url: push:// takes only credentials (push://user:pass@); encoders publish to rtsp://HOST/ingest/%s", c.ID)
	}
	if u.User != nil && u.User.Username() == "" {
		return errors.New("url: a user name is required when credentials are given")
	}
	if pass, _ := u.User.Password(); u.User != nil && pass == "" {
		return errors.New("url: push://user@ has no password; write push://user:pass@")
	}
	if u.User == nil && !c.AllowAnonymous {
		return errors.New("url: push:// without user:pass lets anyone who reaches the RTSP port publish into this source and its record; write push://user:pass@, or set allow_anonymous")
	}
	return nil
}

func validSourceID(id string) bool { return pipeline.ValidID(id) }

// PushSource is a point whose encoder publishes to the RTSP server. Its
// Stream lives as long as the source, across publisher reconnects; a
// reconnect with the same codec parameters continues the stream's timeline
// so re-served readers and the mixer carry on.
type PushSource struct {
	id, name   string
	user, pass string
	anonymous  bool // accepted without credentials (AllowAnonymous)
	log        *slog.Logger
	stream     *pipeline.Stream
	tracker    *Tracker

	slot      PublisherSlot[*publisher] // the encoder that announced, nil when none
	published bool                      // an encoder has recorded before: the next is a reconnect (slot.mu)
	clock     *timeline                 // PTS continue across publishers (and restarts)
}

// NewPushSource validates cfg; it starts nothing.
func NewPushSource(cfg PushConfig, log *slog.Logger) (*PushSource, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("push source %q: %w", cfg.ID, err)
	}
	if log == nil {
		log = slog.Default()
	}
	u, _ := url.Parse(cfg.URL)
	feed := feedOf(cfg.Feed, cfg.ID)
	p := &PushSource{
		id:      cfg.ID,
		name:    cfg.Name,
		log:     log.With("component", "push", "source", cfg.ID),
		stream:  feed.stream,
		clock:   &feed.clock,
		tracker: NewTracker(cfg.ID, cfg.Name, cfg.URL),
	}
	if u.User != nil {
		p.user = u.User.Username()
		p.pass, _ = u.User.Password()
	}
	p.anonymous = p.user == ""
	p.tracker.SetState(StateConnecting, waitingForEncoder)
	return p, nil
}

// ID is the source id.
func (p *PushSource) ID() string { return p.id }

// Stream is the source's stream.
func (p *PushSource) Stream() *pipeline.Stream { return p.stream }

// Status is the source's status.
func (p *PushSource) Status() Status {
	st := p.tracker.Status()
	st.AllowAnonymous = p.anonymous
	return st
}

// Rename changes the name the status shows; the source goes on.
func (p *PushSource) Rename(name string) { p.tracker.SetName(name) }

// Run accepts publishers until ctx ends, drops an encoder that stops
// sending, and summarises decode errors once a second.
func (p *PushSource) Run(ctx context.Context) error {
	return p.slot.Run(ctx, p.tracker, "push source", p.id, "no media from encoder", waitingForEncoder)
}

func (p *PushSource) publishing() bool {
	p.slot.mu.Lock()
	defer p.slot.mu.Unlock()
	return p.slot.pub != nil && p.slot.pub.recording
}

// kick disconnects the current publisher, if any.
func (p *PushSource) kick(reason string) {
	p.slot.mu.Lock()
	pub := p.slot.pub
	p.slot.mu.Unlock()
	if pub != nil {
		pub.close(reason)
	}
}

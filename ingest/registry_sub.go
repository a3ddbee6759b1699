package ingest

import (
	"fmt"
	"strings"

	"diemcau/pipeline"
)

// A camera's sub-stream (sub_url) is a second RTSP pull of the same camera
// at a smaller size. It runs beside the main source, through the same
// reconnect and status logic (a PullSource of its own), on a feed of its
// own that the mixer reads for tiles no larger than its picture. Nothing
// else reads it: the archive, the re-serve and viewers keep the main
// stream.

// subRun is a running sub-stream puller.
type subRun struct {
	src *PullSource
	run running
}

// ValidateSubURL checks a sub_url: "" (none), or rtsp:// / rtsps://
// with a host. The URL is never echoed: it may hold a password.
func ValidateSubURL(raw string) error {
	if raw == "" {
		return nil
	}
	scheme, _, _ := strings.Cut(raw, "://")
	if scheme != "rtsp" && scheme != "rtsps" {
		return fmt.Errorf("sub_url: want rtsp:// or rtsps:// (a camera's sub-stream is pulled; got %s)", schemeOnly(raw))
	}
	if err := (PullConfig{ID: "sub", URL: raw}).Validate(); err != nil {
		return fmt.Errorf("sub_%w", err) // "url: …" becomes "sub_url: …"
	}
	return nil
}

// newSub builds the sub-stream puller of cfg writing to feed; nil without
// a sub_url. Nothing connects before it runs.
func (r *Registry) newSub(cfg SourceConfig, feed *Feed) (*subRun, error) {
	if cfg.SubURL == "" {
		return nil, nil
	}
	if err := ValidateSubURL(cfg.SubURL); err != nil {
		return nil, fmt.Errorf("source %q: %w", cfg.ID, err)
	}
	transport := cfg.Transport
	if strings.HasPrefix(cfg.SubURL, "rtsps://") && transport == TransportUDP {
		transport = TransportTCP
	}
	src, err := NewPullSource(PullConfig{ID: cfg.ID, Name: cfg.Name, URL: cfg.SubURL, Transport: transport, Feed: feed}, r.base.With("stream", "sub"))
	if err != nil {
		return nil, fmt.Errorf("source %q: sub_%w", cfg.ID, unwrapIngest(err))
	}
	return &subRun{src: src}, nil
}

// unwrapIngest drops NewPullSource's `ingest "id": ` prefix, which the
// caller's own message already names.
func unwrapIngest(err error) error {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "ingest ") {
		return fmt.Errorf("%s", rest)
	}
	return err
}

// startSubLocked runs s under the registry's context; r.mu held.
func (r *Registry) startSubLocked(s *subRun) {
	if s == nil || r.ctx == nil {
		return
	}
	s.run = r.goRun(s.src, "sub-stream")
}

// stop ends the sub-stream's Run and waits for it.
func (s *subRun) stop() {
	if s != nil {
		s.run.stop()
	}
}

// status is the sub-stream's own status; nil without one.
func (s *subRun) status() *Status {
	if s == nil {
		return nil
	}
	st := s.src.Status()
	return &st
}

// updateSub replaces e's sub-stream puller by the one cfg names (none
// when its sub_url is empty), leaving the main source running.
func (r *Registry) updateSub(e *entry, cfg SourceConfig) error {
	sub, err := r.newSub(cfg, e.subFeed)
	if err != nil {
		return err
	}
	e.sub.stop()
	e.subFeed.Stream().SetKeyframeRequester(nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	e.sub, e.cfg.SubURL = sub, cfg.SubURL
	r.startSubLocked(sub)
	r.log.Info("sub-stream changed", "source", cfg.ID, "sub_url", RedactURL(cfg.SubURL))
	return nil
}

// onlySubDiffers reports whether b changes nothing of a but its sub_url.
func onlySubDiffers(a, b SourceConfig) bool {
	if a.SubURL == b.SubURL {
		return false
	}
	a.SubURL, b.SubURL = "", ""
	return a == b
}

// SubURL is a source's sub_url as configured, credentials included (for
// probing it; never to be shown): "" without one.
func (r *Registry) SubURL(id string) string {
	u, _ := readEntry(r, id, func(e *entry) string { return e.cfg.SubURL })
	return u
}

// SubStream returns the sub-stream of a source: its own feed, the same for
// the id's whole life in the registry, written only while the source has a
// sub_url. A reader of it waits for frames that may never come.
func (r *Registry) SubStream(id string) (*pipeline.Stream, bool) {
	return readEntry(r, id, func(e *entry) *pipeline.Stream { return e.subFeed.Stream() })
}

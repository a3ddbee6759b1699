package main

import (
	"context"
	"errors"
	"fmt"

	"diemcau/control/sessions"
	"diemcau/control/store"
	"diemcau/control/whep"
	"diemcau/ingest"
	"diemcau/pipeline"
)

// whepConfig is the WHEP server's view of the webrtc.* keys.
// TURN credentials may be written into the URL (turn:user:secret@host).
func whepConfig(cfg *Config) (whep.Config, error) {
	ice, err := whep.ParseICEServers(cfg.WebRTC.ICEServers)
	if err != nil {
		return whep.Config{}, err
	}
	c := whep.Config{UDPPort: cfg.WebRTC.UDPPort, PublicIPs: cfg.WebRTC.PublicIPs, ICEServers: ice}
	whepLimits(cfg, &c)
	return c, nil
}

// whepResolver finds what a viewer asks for: a source's feed, a running
// session's composite or a point's return feed.
type whepResolver struct {
	sources *ingest.Registry
	mgr     *sessions.Manager
	st      *store.Store
}

func (w whepResolver) Source(id string) (*pipeline.Stream, bool) { return w.sources.Stream(id) }

func (w whepResolver) Session(id, point string) (*pipeline.Stream, error) {
	sess, err := w.st.GetSession(context.Background(), id)
	if err != nil {
		return nil, fmt.Errorf("session %q: %w", id, whep.ErrNotFound)
	}
	if point != "" && !hasPoint(sess, point) {
		return nil, fmt.Errorf("session %q has no point %q: %w", id, point, whep.ErrNotFound)
	}
	s, err := w.mgr.Stream(id, point)
	if errors.Is(err, sessions.ErrNotRunning) {
		return nil, fmt.Errorf("session %q is %s, not running: %w", id, sess.State, whep.ErrNotLive)
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, whep.ErrNotLive)
	}
	return s, nil
}

// SessionLow is the low rendition of a running session's composite, or of
// a point's return feed, which its WHEP viewers move to when their path
// narrows; nil without one.
func (w whepResolver) SessionLow(id, point string) *pipeline.Stream {
	return w.mgr.Low(id, point)
}

func hasPoint(sess store.Session, id string) bool {
	for _, p := range sess.Points {
		if p.ID == id {
			return true
		}
	}
	return false
}

package ingest

import "fmt"

// Update gives a source new settings. A new name is only a new name: the
// source goes on as it was. Any other change (url, transport) restarts the
// source on the same Feed: its readers — a running session's composite and
// archive, the re-serve, viewers — keep their reader and see the new
// source's frames follow on, on one forward timeline, as after a camera's
// reconnect. Settings that do not make a source change nothing: the old one
// runs on.
func (r *Registry) Update(cfg SourceConfig) (Source, error) {
	r.change.Lock()
	defer r.change.Unlock()
	r.mu.Lock()
	old, ok := r.sources[cfg.ID]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("source %q: %w", cfg.ID, ErrNoSource)
	}
	cfg.Feed = old.feed
	if onlyNameDiffers(old.cfg, cfg) {
		old.src.Rename(cfg.Name)
		r.mu.Lock()
		old.cfg.Name = cfg.Name
		r.mu.Unlock()
		return old.src, nil
	}
	if onlySubDiffers(old.cfg, cfg) {
		// The main stream, and so the archive, goes on untouched.
		return old.src, r.updateSub(old, cfg)
	}
	sub, err := r.newSub(cfg, old.subFeed)
	if err != nil {
		return nil, err
	}
	src, err := r.newSource(cfg)
	if err != nil {
		return nil, err
	}
	// One writer on the feed at a time: the old source has stopped before
	// the new one starts.
	old.stop()
	old.sub.stop()
	cfg.Feed.Stream().SetKeyframeRequester(nil) // the old source's; a new one installs its own
	old.subFeed.Stream().SetKeyframeRequester(nil)
	if r.server != nil {
		r.server.RemovePushSource(cfg.ID)
		if ps, ok := src.(*PushSource); ok {
			// Cannot fail: the id was removed just above, under r.change.
			if err := r.server.AddPushSource(ps); err != nil {
				r.log.Error("push source not attached after restart", "source", cfg.ID, "err", err)
			}
		}
	}
	r.put(&entry{cfg: cfg, feed: cfg.Feed, src: src, sub: sub, subFeed: old.subFeed})
	r.log.Info("source restarted with new settings", "source", cfg.ID, "kind", cfg.Kind(), "url", RedactURL(cfg.URL))
	return src, nil
}

// onlyNameDiffers reports whether b changes nothing of a but its name (the
// feed is the same by construction).
func onlyNameDiffers(a, b SourceConfig) bool {
	a.Name, b.Name = "", ""
	return a == b
}

package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"diemcau/pipeline"
)

// ErrNoSource is returned for an id the registry does not hold.
var ErrNoSource = errors.New("no such source")

// SourceConfig is one configured source of any kind; the URL scheme picks
// the kind: rtsp:// and rtsps:// pull, push:// waits for an encoder, sim://
// is a synthetic camera.
type SourceConfig struct {
	ID, Name, URL string
	// SubURL is the camera's sub-stream (rtsp:// or rtsps://), pulled
	// beside URL for small tiles; "" none. See registry_sub.go.
	SubURL    string
	Transport string // pull only: auto | tcp | udp (the sub-stream's too)
	// AllowAnonymous: push and srt only, accept encoders without
	// credentials (a passphrase for srt).
	AllowAnonymous bool
	// Feed is where the source writes; the registry sets it (a source made
	// outside a registry leaves it nil and makes its own).
	Feed *Feed
}

// Kind is the source kind its URL names.
func (c SourceConfig) Kind() string {
	scheme, _, _ := strings.Cut(c.URL, "://")
	switch scheme {
	case "rtsp", "rtsps":
		return "pull"
	case "push", "sim", "srt", "whip":
		return scheme
	case "whep", "wheps":
		return "whep"
	}
	return ""
}

// SimFactory makes sim:// sources; the caller picks their picture settings
// and passes cfg.Feed on.
type SimFactory func(cfg SourceConfig, log *slog.Logger) (Source, error)

// NewSource builds the source its URL names.
func NewSource(cfg SourceConfig, sim SimFactory, log *slog.Logger) (Source, error) {
	switch cfg.Kind() {
	case "pull":
		return NewPullSource(PullConfig{ID: cfg.ID, Name: cfg.Name, URL: cfg.URL, Transport: cfg.Transport, Feed: cfg.Feed}, log)
	case "push":
		return NewPushSource(PushConfig{ID: cfg.ID, Name: cfg.Name, URL: cfg.URL, AllowAnonymous: cfg.AllowAnonymous, Feed: cfg.Feed}, log)
	case "whip":
		return NewWHIPSource(WHIPConfig{ID: cfg.ID, Name: cfg.Name, URL: cfg.URL, Feed: cfg.Feed}, log)
	case "sim":
		if sim == nil {
			return nil, fmt.Errorf("source %q: sim:// sources are not available in this build", cfg.ID)
		}
		return sim(cfg, log)
	case "srt":
		// Made by the factory of ingest/srt, which the registry holds.
		return nil, fmt.Errorf("source %q: srt:// sources need the SRT listener (srt.listen)", cfg.ID)
	case "whep":
		// Made by the factory of control/whep (a WebRTC client).
		return nil, fmt.Errorf("source %q: whep:// sources need the WebRTC client, which this registry lacks", cfg.ID)
	}
	return nil, fmt.Errorf("source %q: url: want rtsp://, rtsps://, push://, srt://, whip:// or sim:// (got %q)", cfg.ID, schemeOnly(cfg.URL))
}

func schemeOnly(raw string) string {
	if scheme, _, ok := strings.Cut(raw, "://"); ok {
		return scheme + "://…"
	}
	return "no scheme"
}

// Registry holds the running sources: it starts each one's Run under its own
// Run, attaches push sources to the RTSP server and re-serves every feed at
// /sources/{id}. Sources can be added, changed and removed while it runs;
// each id keeps one Feed from Add to Remove (see Update).
type Registry struct {
	log    *slog.Logger // the registry's own
	base   *slog.Logger // handed to sources, which name their component
	server *Server      // may be nil: no push ingest, no re-serve
	sim    SimFactory

	change sync.Mutex // one Add, Update or Remove at a time

	mu        sync.Mutex
	sources   map[string]*entry
	factories map[string]Factory // kinds made outside this package (srt)
	ctx       context.Context
	wg        sync.WaitGroup
}

// entry is one source as it runs; a restart makes a new entry on the same
// feeds.
type entry struct {
	cfg  SourceConfig
	feed *Feed
	src  Source
	run  running
	// sub is the sub-stream's puller (nil without a sub_url); subFeed is
	// there from Add to Remove either way, so a point reads it from the
	// start and a sub_url set later just starts writing to it.
	sub     *subRun
	subFeed *Feed
}

// NewRegistry makes an empty registry. server may be nil (no push ingest or
// re-serve); sim may be nil (no sim:// sources).
func NewRegistry(log *slog.Logger, server *Server, sim SimFactory) *Registry {
	return &Registry{log: log.With("component", "sources"), base: log, server: server, sim: sim, sources: map[string]*entry{}}
}

// Add builds a source and, once Run has started, runs it. Adding an id that
// exists is an error.
func (r *Registry) Add(cfg SourceConfig) (Source, error) {
	r.change.Lock()
	defer r.change.Unlock()
	if _, ok := r.Get(cfg.ID); ok {
		return nil, fmt.Errorf("source %q already exists", cfg.ID)
	}
	cfg.Feed = NewFeed(cfg.ID)
	subFeed := NewFeed(cfg.ID + "/sub")
	sub, err := r.newSub(cfg, subFeed)
	if err != nil {
		return nil, err
	}
	src, err := r.newSource(cfg)
	if err != nil {
		return nil, err
	}
	if r.server != nil {
		if ps, ok := src.(*PushSource); ok {
			if err := r.server.AddPushSource(ps); err != nil {
				return nil, fmt.Errorf("source %q: %w", cfg.ID, err)
			}
		}
		if err := r.server.Serve("sources/"+cfg.ID, cfg.Feed.Stream()); err != nil {
			r.server.RemovePushSource(cfg.ID)
			return nil, fmt.Errorf("source %q: re-serve: %w", cfg.ID, err)
		}
	}
	r.put(&entry{cfg: cfg, feed: cfg.Feed, src: src, sub: sub, subFeed: subFeed})
	return src, nil
}

// newSource builds the source cfg names, writing to cfg.Feed.
func (r *Registry) newSource(cfg SourceConfig) (Source, error) {
	var src Source
	var err error
	if f := r.factory(cfg.Kind()); f != nil {
		src, err = f(cfg, r.base)
	} else {
		src, err = NewSource(cfg, r.sim, r.base)
	}
	if err != nil {
		return nil, err
	}
	if src.Stream() != cfg.Feed.Stream() {
		// Its readers would wait on a stream nobody writes.
		return nil, fmt.Errorf("source %q: the source does not write to the registry's feed", cfg.ID)
	}
	return src, nil
}

// put holds e and, once Run has started, runs it.
func (r *Registry) put(e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sources[e.cfg.ID] = e
	if r.ctx != nil {
		r.startLocked(e)
		r.startSubLocked(e.sub)
	}
}

func (r *Registry) startLocked(e *entry) {
	e.run = r.goRun(e.src, "source")
}

// stop ends a source's Run and waits for it. Its sub-stream is stopped
// apart (subRun.stop).
func (e *entry) stop() { e.run.stop() }

// running is a source's Run in the registry's goroutines: cancel ends it,
// done is closed once it has returned. The zero running never ran.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// goRun runs src under the registry's context; r.mu held. what names it
// in the log ("source", "sub-stream").
func (r *Registry) goRun(src Source, what string) running {
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(done)
		if err := src.Run(ctx); err != nil && ctx.Err() == nil {
			r.log.Error(what+" stopped", "source", src.ID(), "err", err)
		}
	}()
	return running{cancel, done}
}

// stop ends the Run and waits for it; one that never ran has nothing to
// stop.
func (x running) stop() {
	if x.cancel != nil {
		x.cancel()
		<-x.done
	}
}

// Remove stops a source and waits for it; readers of its stream see it close.
func (r *Registry) Remove(id string) error {
	r.change.Lock()
	defer r.change.Unlock()
	r.mu.Lock()
	e, ok := r.sources[id]
	if ok {
		delete(r.sources, id)
	}
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("source %q: %w", id, ErrNoSource)
	}
	if r.server != nil {
		r.server.Unserve("sources/" + id)
		r.server.RemovePushSource(id)
	}
	e.stop()
	e.sub.stop()
	e.feed.Stream().Close()
	e.subFeed.Stream().Close()
	return nil
}

// Run starts every source added so far and those added later, and returns
// when ctx ends and all of them have stopped. It leaves their streams open:
// readers end with their own context (see Feed).
func (r *Registry) Run(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	for _, e := range r.sources {
		r.startLocked(e)
		r.startSubLocked(e.sub)
	}
	r.mu.Unlock()
	<-ctx.Done()
	r.wg.Wait()
	return nil
}

// Get returns a source by id.
func (r *Registry) Get(id string) (Source, bool) {
	return readEntry(r, id, func(e *entry) Source { return e.src })
}

// readEntry is what get reads of id's entry, under r.mu; false when the
// registry has no such source.
func readEntry[T any](r *Registry, id string, get func(*entry) T) (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.sources[id]
	if !ok {
		var none T
		return none, false
	}
	return get(e), true
}

// Stream returns the stream of a source: its feed, the same for the id's
// whole life in the registry, across Update's restarts.
func (r *Registry) Stream(id string) (*pipeline.Stream, bool) {
	return readEntry(r, id, func(e *entry) *pipeline.Stream { return e.feed.Stream() })
}

// Status returns a source's status.
func (r *Registry) Status(id string) (Status, bool) {
	src, ok := r.Get(id)
	if !ok {
		return Status{}, false
	}
	st := src.Status()
	r.mu.Lock()
	if e, ok := r.sources[id]; ok && e.src == src {
		st.Sub = e.sub.status()
	}
	r.mu.Unlock()
	return st, true
}

// List returns every source's status, by id.
func (r *Registry) List() []Status {
	r.mu.Lock()
	out := make([]Status, 0, len(r.sources))
	for _, e := range r.sources {
		st := e.src.Status()
		st.Sub = e.sub.status()
		out = append(out, st)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

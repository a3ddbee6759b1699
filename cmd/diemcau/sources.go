package main

import (
	"fmt"
	"log/slog"
	"strings"

	"diemcau/ingest"
)

// sourceSet is every configured source by id, in config order.
type sourceSet struct {
	byID    map[string]ingest.Source
	ordered []ingest.Source
	push    []*ingest.PushSource
}

func (s *sourceSet) List() []ingest.Status {
	out := make([]ingest.Status, 0, len(s.ordered))
	for _, src := range s.ordered {
		out = append(out, src.Status())
	}
	return out
}

func (s *sourceSet) Get(id string) (ingest.Status, bool) {
	src, ok := s.byID[id]
	if !ok {
		return ingest.Status{}, false
	}
	return src.Status(), true
}

// buildSources makes one ingest.Source per configured source, by URL scheme.
func buildSources(cfg *Config, log *slog.Logger) (*sourceSet, error) {
	set := &sourceSet{byID: map[string]ingest.Source{}}
	for i, sc := range cfg.Sources {
		src, err := newSource(sc, log)
		if err != nil {
			return nil, fmt.Errorf("sources[%d] (%s): %w", i, sc.ID, err)
		}
		if ps, ok := src.(*ingest.PushSource); ok {
			set.push = append(set.push, ps)
		}
		set.byID[sc.ID] = src
		set.ordered = append(set.ordered, src)
	}
	return set, nil
}

func newSource(sc SourceConfig, log *slog.Logger) (ingest.Source, error) {
	switch scheme, _, _ := strings.Cut(sc.URL, "://"); scheme {
	case "rtsp", "rtsps":
		return ingest.NewPullSource(ingest.PullConfig{ID: sc.ID, Name: sc.Name, URL: sc.URL, Transport: sc.Transport}, log)
	case "push":
		return ingest.NewPushSource(ingest.PushConfig{ID: sc.ID, Name: sc.Name, URL: sc.URL}, log)
	case "sim":
		return ingest.NewSimSource(ingest.SimConfig{ID: sc.ID, Name: sc.Name, URL: sc.URL, Audio: true}, log)
	default:
		return nil, fmt.Errorf("url: unsupported scheme %q", scheme)
	}
}

// buildRTSPServer makes the RTSP server with every push source attached and
// every source's feed re-served at /sources/{id}.
func buildRTSPServer(cfg *Config, sources *sourceSet, log *slog.Logger) (*ingest.Server, error) {
	srv, err := ingest.NewServer(ingest.ServerConfig{Listen: cfg.RTSP.Listen}, log)
	if err != nil {
		return nil, err
	}
	for _, ps := range sources.push {
		srv.AddPushSource(ps)
	}
	for _, src := range sources.ordered {
		srv.Serve("sources/"+src.ID(), src.Stream())
	}
	return srv, nil
}

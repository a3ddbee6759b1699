package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"diemcau/control/store"
	"diemcau/control/whep"
	"diemcau/ingest"
	srtin "diemcau/ingest/srt"
	"diemcau/internal/fielderr"
)

// buildSources makes the RTSP server and the source registry with every
// source the store holds (the config's, loaded into it, and those created
// through the API); each re-serves at /sources/{id}.
func buildSources(ctx context.Context, cfg *Config, st *store.Store, log *slog.Logger) (*ingest.Server, *ingest.Registry, *srtin.Server, error) {
	srv, err := ingest.NewServer(rtspConfig(cfg), log)
	if err != nil {
		return nil, nil, nil, fielderr.In("rtsp", err)
	}
	reg := ingest.NewRegistry(log, srv, newSimSource)
	srtServer, err := newSRTIngest(cfg, reg, log)
	if err != nil {
		return nil, nil, nil, err
	}
	// whep:// sources play a remote WHEP stream: a point node's return
	// feed from its hub.
	reg.SetFactory("whep", whep.NewPullerFactory())
	stored, err := st.ListSources(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, s := range stored {
		if _, err := reg.Add(ingest.SourceConfig{ID: s.ID, Name: s.Name, URL: s.URL, SubURL: s.SubURL, Transport: s.Transport, AllowAnonymous: s.AllowAnonymous}); err != nil {
			// One bad stored source must not keep the others off the air.
			log.Error("source not started", "source", s.ID, "err", ingest.RedactError(err, s.URL))
		}
	}
	warnAnonymousSRT(reg, log)
	return srv, reg, srtServer, nil
}

// openStore opens the SQLite store and makes it agree with the config file.
func openStore(ctx context.Context, cfg *Config, log *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.Store, log)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", cfg.Store, err)
	}
	var sources []store.Source
	for _, s := range cfg.Sources {
		sources = append(sources, s.toStore())
	}
	var sessions []store.Session
	for _, s := range cfg.Sessions {
		sessions = append(sessions, s.toStore())
	}
	msgs, err := st.LoadConfig(ctx, sources, sessions)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("store %s: loading the config: %w", cfg.Store, err)
	}
	for _, m := range msgs {
		log.Info("config", "change", m)
	}
	return st, nil
}

// probeSource probes a source as the server receives it, through its
// re-served path on loopback: the camera keeps one connection, and push and
// sim sources are probed the same way as cameras.
func probeSource(reg *ingest.Registry, srv *ingest.Server) func(ctx context.Context, id string, d time.Duration) (ingest.ProbeReport, error) {
	return func(ctx context.Context, id string, d time.Duration) (ingest.ProbeReport, error) {
		st, ok := reg.Status(id)
		if !ok {
			return ingest.ProbeReport{}, fmt.Errorf("source %q: %w", id, ingest.ErrNoSource)
		}
		if st.State != ingest.StateOnline {
			msg := st.Error
			if msg == "" {
				msg = "no signal"
			}
			return ingest.ProbeReport{URL: st.URL, Error: msg, Verdict: ingest.CheckFail, Checks: []ingest.ProbeCheck{}},
				fmt.Errorf("source %q is %s: %s", id, st.State, msg)
		}
		u, err := srv.LoopbackURL("sources/" + id)
		if err != nil {
			return ingest.ProbeReport{}, err
		}
		// A sub-stream is not re-served: it is read from the camera
		// itself, beside the main one.
		rep, err := ingest.ProbePair(ctx, u, reg.SubURL(id), d,
			ingest.ProbeOptions{Transport: "tcp", Relayed: true}, ingest.ProbeOptions{Transport: "tcp"})
		rep.URL = st.URL // the camera, not the loopback path
		return rep, err
	}
}

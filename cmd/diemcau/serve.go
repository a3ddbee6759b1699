package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"

	"diemcau/control"
	"diemcau/control/checks"
	"diemcau/control/console"
	"diemcau/control/sessions"
	"diemcau/control/store"
	"diemcau/control/whep"
	"diemcau/ingest"
	"diemcau/ingest/sim"
	"diemcau/internal/fielderr"
	"diemcau/pipeline"
)

func newServeCommand() *cobra.Command {
	var (
		configFile string
		logLevel   string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server (with no --config: the embedded demo of four simulated points)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			cfg, err := loadConfig(configFile, map[string]*pflag.Flag{
				"http.listen": fl.Lookup("http"),
				"rtsp.listen": fl.Lookup("rtsp"),
			})
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, log)
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "config file (YAML); none runs the embedded demo")
	cmd.Flags().String("http", "", "HTTP listen address (overrides http.listen)")
	cmd.Flags().String("rtsp", "", "RTSP listen address (overrides rtsp.listen)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// serve wires every component and runs them in one errgroup: the first to
// fail, or a signal, stops them all, and serve returns once all have.
func serve(ctx context.Context, cfg *Config, log *slog.Logger) error {
	tokens, demoToken, err := operatorTokens(cfg)
	if err != nil {
		return err
	}
	// The server's own credential for the WebRTC leg of checks; never shown.
	checkToken, checkHash, err := control.NewRandomToken()
	if err != nil {
		return err
	}
	tokens = append(tokens, control.Token{Name: "diemcau-check", Role: control.RoleViewer, SHA256: checkHash})
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	rtspServer, sources, srtServer, err := buildSources(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	media := probeMedia(ctx, cfg, log)
	archive, err := newArchive(cfg, st, log)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}

	mgr, err := sessions.New(log, sessions.Deps{
		Stream: sources.Stream,
		SaveState: func(ctx context.Context, id, state string, at time.Time) error {
			_, err := st.UpdateSessionState(ctx, id, state, at)
			return err
		},
		Recorder: sessionRecorder{rec: archive, extra: hubRecording(cfg, sources)},
		Mixer:    mixerFactory(media, sources.SubStream, log),
		Serve: func(path string, s *pipeline.Stream) func() {
			if err := rtspServer.Serve(path, s); err != nil {
				log.Error("rtsp: cannot serve", "path", path, "err", err)
				return func() {}
			}
			return func() { rtspServer.Unserve(path) }
		},
	})
	if err != nil {
		return err
	}

	probe := probeSource(sources, rtspServer)
	nodeReports := func(string, string) (checks.NodeReport, bool) { return checks.NodeReport{}, false }
	checker, err := checks.New(checks.Config{ArchiveRoot: cfg.Archive.Root, MinFree: int64(cfg.Archive.MinFree)}, log, checks.Deps{
		Store:   st,
		Source:  sources.Status,
		Probe:   probe,
		Encoder: func() (string, bool) { return media.encoder.Element, media.encoder.Hardware },
		Sound:   checkSound(mgr),
		// The API, made below, keeps the point nodes' reports.
		Node: func(sessionID, point string) (checks.NodeReport, bool) { return nodeReports(sessionID, point) },
	})
	if err != nil {
		return err
	}

	auditPruner, err := store.NewAuditPruner(store.AuditPruneConfig{Retention: cfg.Audit.Retention}, log, st)
	if err != nil {
		return err
	}

	api, err := control.New(control.Config{
		Listen:  cfg.HTTP.Listen,
		TLSCert: cfg.HTTP.TLS.Cert,
		TLSKey:  cfg.HTTP.TLS.Key,
		Tokens:  tokens,
		Limits:  httpLimits(cfg),
	}, log, control.Deps{
		Sources:     sources,
		SourceAdmin: sources,
		Store:       st,
		Sessions:    mgr,
		Recordings:  archive,
		Probe:       probe,
		Checker:     checker,
		Info:        media.info,
		Ready:       func() bool { return st.Ping(context.Background()) == nil },
	})
	if err != nil {
		return err
	}
	nodeReports = api.NodeReport
	// RTSP readers log in with the API's tokens and invites; ending an
	// invite or a session ends what it let in, RTSP and WHEP alike.
	rtspServer.SetReadAuthorizer(rtspReadAuthorizer(api))
	revoker := &connRevoker{rtsp: rtspServer}
	api.SetRevoker(revoker)
	api.Registry().MustRegister(newRTSPAuthCollector(rtspServer))
	if srtServer != nil {
		api.Registry().MustRegister(newSRTCollector(srtServer, sources))
	}

	wc, err := whepConfig(cfg)
	if err != nil {
		return err
	}
	viewers, err := whep.New(wc, log, whepResolver{sources: sources, mgr: mgr, st: st}, whepAuthorizer(api))
	if err != nil {
		return fielderr.In("webrtc", err)
	}
	revoker.viewers = viewers
	viewers.EnableWHIP(whipSources(sources), whipAuthorizer(api))
	api.Registry().MustRegister(newWHIPCollector(viewers, sources))
	viewers.Register(api.Handle)
	console.Register(api.Handle)
	api.SetViewers(viewers.Viewers)
	api.SetViewerStats(viewers.ViewerStats)
	outputs := &outputSet{}
	api.SetOutputs(outputs.status)
	checker.SetWebRTC(webrtcCheck(api, viewers, checkToken, st, mgr, sources))
	addConnCounters(api, rtspServer, viewers)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return viewers.Run(ctx) })
	g.Go(func() error { return api.Run(ctx) })
	g.Go(func() error { return rtspServer.Run(ctx) })
	g.Go(func() error { return runSRT(ctx, srtServer) })
	g.Go(func() error { return sources.Run(ctx) })
	g.Go(func() error { return mgr.Run(ctx) })
	g.Go(func() error { return runOutputs(ctx, cfg, mgr, sources, outputs, log) })
	g.Go(func() error { return archive.Run(ctx) })
	g.Go(func() error { return checker.Run(ctx) })
	g.Go(func() error { return auditPruner.Run(ctx) })
	g.Go(func() error {
		select {
		case <-api.Listening():
			select {
			case <-rtspServer.Listening():
			case <-ctx.Done():
				return nil
			}
			announce(cfg, api, rtspServer, demoToken, log)
			startSessions(ctx, cfg, st, mgr, log)
		case <-ctx.Done():
		}
		return nil
	})
	err = g.Wait()
	log.Info("stopped")
	return err
}

// startSessions starts, at boot, the config file's sessions whose start
// mode is live or rehearsal, and resumes any session the store still shows
// running (the server stopped or crashed under it); a resumed live session
// records into a new run folder.
func startSessions(ctx context.Context, cfg *Config, st *store.Store, mgr *sessions.Manager, log *slog.Logger) {
	modes := map[string]string{}
	for _, sc := range cfg.Sessions {
		if sc.Start != store.StartManual {
			modes[sc.ID] = sc.Start
		}
	}
	list, err := st.ListSessions(ctx)
	if err != nil {
		log.Error("sessions not started", "err", err)
		return
	}
	for _, sess := range list {
		mode, ok := modes[sess.ID]
		if sess.State == store.StateLive || sess.State == store.StateRehearsal {
			mode, ok = sess.State, true
			log.Info("resuming session", "session", sess.ID, "mode", mode)
		}
		if !ok {
			continue
		}
		if err := mgr.Start(control.SpecOf(sess), mode); err != nil {
			log.Error("session not started", "session", sess.ID, "err", err)
		}
	}
}

// newSimSource makes sim:// sources at the demo's picture size.
func newSimSource(cfg ingest.SourceConfig, log *slog.Logger) (ingest.Source, error) {
	return sim.New(sim.Config{ID: cfg.ID, Name: cfg.Name, URL: cfg.URL, Audio: true, Feed: cfg.Feed}, log)
}

// operatorTokens turns the configured hashes into credentials; with none
// configured an admin token is made for this run and printed once.
func operatorTokens(cfg *Config) ([]control.Token, string, error) {
	var tokens []control.Token
	for i, t := range cfg.Auth.Tokens {
		h, err := control.ParseTokenHash(t.SHA256)
		if err != nil {
			return nil, "", fmt.Errorf("auth.tokens[%d].sha256: %w", i, err)
		}
		tokens = append(tokens, control.Token{Name: t.Name, Role: control.Role(t.Role), SHA256: h})
	}
	if len(tokens) > 0 {
		return tokens, "", nil
	}
	tok, hash, err := control.NewRandomToken()
	if err != nil {
		return nil, "", err
	}
	return []control.Token{{Name: "admin", Role: control.RoleAdmin, SHA256: hash}}, tok, nil
}

// announce prints what a person starting the server needs: where the
// console is and, when one was generated, the admin token. The token goes to
// stdout only, never to the log.
func announce(cfg *Config, api *control.Server, rtspServer *ingest.Server, demoToken string, log *slog.Logger) {
	host := localHost(api.Addr().String())
	scheme := "http"
	if cfg.HTTP.TLS.Cert != "" {
		scheme = "https"
	}
	fmt.Printf("diemcau: console  %s://%s/\n", scheme, host)
	if demoToken != "" {
		fmt.Printf("diemcau: admin token (shown once, not stored): %s\n", demoToken)
		// RTSP readers log in too: the token as password (Basic), never
		// repeated here in a URL.
		rtspHost := localHost(rtspServer.Addr().String())
		path := "/sessions/{id} or /sources/{id}"
		if cfg.Demo {
			path = "/sessions/demo"
		}
		fmt.Printf("diemcau: RTSP     rtsp://%s%s  (user admin, password the admin token; e.g. ffplay \"rtsp://admin:$TOKEN@%s%s\")\n",
			rtspHost, path, rtspHost, path)
	}
	if cfg.Demo {
		log.Info("embedded demo running: four simulated points; pass --config FILE for a real setup")
	}
}

// localHost shows a wildcard listen address as localhost, for a person at
// the machine.
func localHost(addr string) string {
	if strings.HasPrefix(addr, "[::]:") || strings.HasPrefix(addr, "0.0.0.0:") {
		return "localhost" + addr[strings.LastIndex(addr, ":"):]
	}
	return addr
}

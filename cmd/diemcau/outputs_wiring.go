package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"diemcau/control"
	"diemcau/control/sessions"
	"diemcau/control/whep"
	"diemcau/ingest"
	"diemcau/pipeline"
)

// outputPoll is how often an output looks for its session's stream: a
// session started or restarted goes out within it.
const outputPoll = 500 * time.Millisecond

// outputSet is every output of the server, by session, for the sessions'
// status.
type outputSet struct {
	mu        sync.Mutex
	bySession map[string][]*outputSlot
}

// outputSlot is one output and the pusher it runs while its session runs.
type outputSlot struct {
	name, url string
	mu        sync.Mutex
	current   *whep.Pusher
	// returnFeed, on a point node's link to its hub, reads the return
	// feed's source; nil for other outputs.
	returnFeed func() *control.ReturnFeed
}

func (o *outputSet) add(sessionID, name, url string) *outputSlot {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bySession == nil {
		o.bySession = map[string][]*outputSlot{}
	}
	s := &outputSlot{name: name, url: url}
	o.bySession[sessionID] = append(o.bySession[sessionID], s)
	return s
}

func (s *outputSlot) set(p *whep.Pusher) {
	s.mu.Lock()
	s.current = p
	s.mu.Unlock()
}

// status is the session's outputs for its status (control.Deps.Outputs).
func (o *outputSet) status(sessionID string) []control.OutputStatus {
	o.mu.Lock()
	slots := o.bySession[sessionID]
	o.mu.Unlock()
	var out []control.OutputStatus
	for _, s := range slots {
		s.mu.Lock()
		p, url, rf := s.current, s.url, s.returnFeed
		s.mu.Unlock()
		st := control.OutputStatus{Name: s.name, URL: url, State: "idle"}
		if p != nil {
			ps := p.Status()
			since := ps.Since
			st.State, st.Error, st.Since, st.Connects, st.FramesSent = ps.State, ps.Error, &since, ps.Connects, ps.FramesSent
			link := p.Link()
			st.Link = &link
		}
		if rf != nil {
			st.ReturnFeed = rf()
		}
		out = append(out, st)
	}
	return out
}

// returnFeed is a point node's return feed as its source "hub" has it.
func returnFeed(reg *ingest.Registry) *control.ReturnFeed {
	st, ok := reg.Status(hubSourceID)
	if !ok {
		return nil
	}
	rf := &control.ReturnFeed{State: st.State, Error: st.Error}
	if st.Net != nil {
		rf.NetStats = *st.Net
	}
	return rf
}

// runOutputs publishes every session's outputs while the session runs and,
// on a point node, links it to its hub. It returns when ctx ends.
func runOutputs(ctx context.Context, cfg *Config, mgr *sessions.Manager, reg *ingest.Registry, set *outputSet, log *slog.Logger) error {
	var wg sync.WaitGroup
	for _, s := range cfg.Sessions {
		for i, o := range s.Outputs {
			point, _ := outputPoint(o.Stream, s) // checked at load
			pc := whep.PusherConfig{Name: fmt.Sprintf("%s/outputs[%d]", s.ID, i), URL: o.WHIP, Token: o.Token}
			slot := set.add(s.ID, pc.Name, pc.URL)
			wg.Go(func() { superviseOutput(ctx, mgr, s.ID, point, pc, slot, log) })
		}
	}
	if cfg.Hub.URL != "" {
		program, _ := cfg.hubProgram() // checked at load
		hlog := log.With("component", "hub-link")
		slot := set.add(program, "hub", strings.TrimSuffix(cfg.Hub.URL, "/"))
		slot.mu.Lock()
		slot.returnFeed = func() *control.ReturnFeed { return returnFeed(reg) }
		slot.mu.Unlock()
		wg.Go(func() { runHubLink(ctx, cfg.Hub, program, mgr, slot, hlog) })
		wg.Go(func() { reportToHub(ctx, cfg, program, reg, mgr, slot, hlog) })
	}
	wg.Wait()
	return nil
}

// superviseOutput runs a Pusher on the session's stream while the session
// runs, and a new one when the session restarts (a new stream).
func superviseOutput(ctx context.Context, mgr *sessions.Manager, sessionID, point string, pc whep.PusherConfig, slot *outputSlot, log *slog.Logger) {
	var cur *pipeline.Stream
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	tick := time.NewTicker(outputPoll)
	defer tick.Stop()
	for {
		s, err := mgr.Stream(sessionID, point)
		if err != nil {
			s = nil
		}
		if s != cur {
			if stop != nil {
				stop()
				stop = nil
				slot.set(nil)
			}
			cur = s
			if s != nil {
				cfg := pc
				cfg.Stream = s
				p, err := whep.NewPusher(cfg, log)
				if err != nil {
					log.Error("output not started", "output", pc.Name, "error", err)
				} else {
					slot.set(p)
					octx, cancel := context.WithCancel(ctx)
					done := make(chan struct{})
					go func() { defer close(done); _ = p.Run(octx) }()
					stop = func() { cancel(); <-done }
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// hubInvite is what the hub says of this node's invite (GET /api/v1/invite).
type hubInvite struct {
	Session string `json:"session"`
	Point   string `json:"point"`
	Source  string `json:"source"`
	WHIP    string `json:"whip"`
	WHEP    string `json:"whep"`
}

// runHubLink publishes a point node's program session to the point's
// source at its hub. It first asks the hub what the invite is for (which
// also proves the link); a hub down at start, or restarting, is picked up
// within a second or two of answering. The return feed is the source
// "hub" (applyHub), which plays and reconnects on its own.
func runHubLink(ctx context.Context, hub HubConfig, program string, mgr *sessions.Manager, slot *outputSlot, log *slog.Logger) {
	client := &http.Client{Timeout: 10 * time.Second}
	wait := 500 * time.Millisecond
	var inv hubInvite
	for attempt := 1; ; attempt++ {
		var err error
		inv, err = askHub(ctx, client, hub)
		if err == nil {
			break
		}
		if attempt == 1 || attempt%20 == 0 {
			log.Warn("hub not reachable yet", "hub", hub.URL, "error", err, "attempts", attempt)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
	if hub.Point != "" && inv.Point != hub.Point {
		log.Error("the hub's invite is for another point: the program is not sent", "configured", hub.Point, "invite", inv.Point)
		return
	}
	log.Info("linked to hub", "hub", hub.URL, "session", inv.Session, "point", inv.Point, "program", program)
	pub, _ := url.Parse(strings.TrimSuffix(hub.URL, "/") + inv.WHIP)
	slot.mu.Lock()
	slot.url = pub.String() // the point's source, now known
	slot.mu.Unlock()
	superviseOutput(ctx, mgr, program, "", whep.PusherConfig{Name: "hub", URL: pub.String(), Token: hub.Token}, slot, log)
}

// askHub reads the invite's own view from the hub.
func askHub(ctx context.Context, client *http.Client, hub HubConfig) (hubInvite, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(hub.URL, "/")+"/api/v1/invite", nil)
	if err != nil {
		return hubInvite{}, err
	}
	req.Header.Set("Authorization", "Bearer "+hub.Token)
	res, err := client.Do(req)
	if err != nil {
		return hubInvite{}, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		return hubInvite{}, fmt.Errorf("GET /api/v1/invite: %s: %s", res.Status, strings.TrimSpace(string(body)))
	}
	var inv hubInvite
	if err := json.Unmarshal(body, &inv); err != nil {
		return hubInvite{}, fmt.Errorf("GET /api/v1/invite: %w", err)
	}
	if inv.WHIP == "" || inv.WHEP == "" {
		return hubInvite{}, fmt.Errorf("the invite is not a point's (the hub gave no WHIP path): make it with \"point\"")
	}
	return inv, nil
}

// hubRecording records a point node's return feed with its program: the
// node keeps what it was shown, beside what it sent.
func hubRecording(cfg *Config, reg *ingest.Registry) func(string) map[string]*pipeline.Stream {
	if cfg.Hub.URL == "" {
		return nil
	}
	program, _ := cfg.hubProgram()
	return func(sessionID string) map[string]*pipeline.Stream {
		if sessionID != program {
			return nil
		}
		s, ok := reg.Stream(hubSourceID)
		if !ok {
			return nil
		}
		return map[string]*pipeline.Stream{"sources/" + hubSourceID: s}
	}
}

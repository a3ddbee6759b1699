package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"diemcau/control/checks"
	"diemcau/control/sessions"
	"diemcau/ingest"
)

// hubReportEvery is how often a point node tells its hub about itself.
const hubReportEvery = 5 * time.Second

// plannedFallback is the session length the disk need assumes when the
// program session has no duration (the pre-session check's own default).
const plannedFallback = 4 * time.Hour

// reportToHub sends the node's report to its hub until ctx ends: its
// cameras, its disk against the planned session, its recording and its
// link both ways as measured (link, the hub output's slot). The hub's
// check of the point includes it (checks.NodeReport).
func reportToHub(ctx context.Context, cfg *Config, program string, reg *ingest.Registry, mgr *sessions.Manager, link *outputSlot, log *slog.Logger) {
	client := &http.Client{Timeout: 5 * time.Second}
	endpoint := strings.TrimSuffix(cfg.Hub.URL, "/") + "/api/v1/invite/report"
	failures := 0
	tick := time.NewTicker(hubReportEvery)
	defer tick.Stop()
	for {
		rep := nodeReport(cfg, program, reg, mgr)
		rep.Link = nodeLink(cfg, program, link, reg)
		if err := postReport(ctx, client, endpoint, cfg.Hub.Token, rep); err != nil {
			failures++
			if failures == 1 || failures%60 == 0 {
				log.Warn("report to the hub failed", "error", err, "failures", failures)
			}
		} else {
			failures = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// nodeReport is what the node says of itself now.
func nodeReport(cfg *Config, program string, reg *ingest.Registry, mgr *sessions.Manager) checks.NodeReport {
	rep := checks.NodeReport{Version: version}
	var kbps float64
	for _, st := range reg.List() {
		if st.ID == hubSourceID {
			kbps += st.BitrateKbps // recorded too
			continue
		}
		rep.Sources = append(rep.Sources, checks.NodeSource{ID: st.ID, State: string(st.State), Error: st.Error})
		kbps += st.BitrateKbps
	}
	planned := plannedFallback
	for _, s := range cfg.Sessions {
		if s.ID == program {
			kbps += float64(s.Output.Bitrate)
			if s.Duration > 0 {
				planned = s.Duration
			}
		}
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(cfg.Archive.Root, &fs); err == nil {
		rep.DiskFreeBytes = int64(fs.Bavail) * int64(fs.Bsize)
	}
	rep.DiskNeedBytes = int64(kbps*1000/8*planned.Seconds()) + int64(cfg.Archive.MinFree)
	if live, ok := mgr.Status(program); ok {
		rep.Recording = live.Recording.Active
	}
	return rep
}

// nodeLink is the node's link as it measures it: the program going out
// (the hub output's own figures) and the return feed coming in (the
// source "hub").
func nodeLink(cfg *Config, program string, slot *outputSlot, reg *ingest.Registry) *checks.NodeLink {
	l := &checks.NodeLink{Send: checks.NodeLeg{State: "idle"}, Return: checks.NodeLeg{State: "offline"}}
	for _, s := range cfg.Sessions {
		if s.ID == program {
			l.ProgramKbps = s.Output.Bitrate
		}
	}
	slot.mu.Lock()
	p := slot.current
	slot.mu.Unlock()
	if p != nil {
		ps, k := p.Status(), p.Link()
		l.Send = checks.NodeLeg{State: ps.State, Error: ps.Error, BitrateKbps: k.BitrateKbps, LossPct: k.LossPct, RTTMS: k.RTTMS, JitterMS: k.JitterMS}
	}
	if rf := returnFeed(reg); rf != nil {
		l.Return = checks.NodeLeg{State: string(rf.State), Error: rf.Error, BitrateKbps: rf.BitrateKbps, LossPct: rf.PathLossPct, RTTMS: rf.RTTMS, JitterMS: rf.JitterMS}
	}
	return l
}

func postReport(ctx context.Context, client *http.Client, endpoint, token string, rep checks.NodeReport) error {
	body, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("POST /api/v1/invite/report: %s", res.Status)
	}
	return nil
}

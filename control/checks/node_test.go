package checks

import (
	"strings"
	"testing"
	"time"

	"diemcau/control/store"
	"diemcau/ingest"
)

// TestCheckNode: a point node's own report grades its point: a camera
// offline or a disk too small for the planned session fails it, a stale
// report or no recording warns; its link fails past 5 % loss either way
// (its own measure or the hub's view of what arrives) and warns past 1 %,
// under half the configured bitrate, past a 300 ms round trip, or with a
// leg down (the return feed only while the session runs); a node with
// nothing wrong passes.
func TestCheckNode(t *testing.T) {
	const gb = 1 << 30
	fresh := time.Now()
	leg := NodeLeg{State: "online", BitrateKbps: 480, LossPct: 0.2, RTTMS: 20, JitterMS: 3}
	healthy := NodeReport{Sources: []NodeSource{{ID: "cam", State: "online"}}, DiskFreeBytes: 100 * gb, DiskNeedBytes: 10 * gb, Recording: true, ReceivedAt: fresh,
		Link: &NodeLink{Send: leg, Return: leg, ProgramKbps: 500}}
	with := func(f func(*NodeReport)) NodeReport {
		r := healthy
		r.Sources = append([]NodeSource(nil), r.Sources...)
		l := *r.Link
		r.Link = &l
		f(&r)
		return r
	}
	live := store.Session{ID: "phien", State: store.StateLive, Output: store.Output{Bitrate: 500}}
	idle := live
	idle.State = store.StateIdle
	clean := ingest.Status{ID: "xa-a", State: ingest.StateOnline, Net: &ingest.NetStats{PathLossPct: 0.1}}
	tests := []struct {
		name    string
		rep     NodeReport
		has     bool
		sess    store.Session
		hubView ingest.Status
		verdict string
		reason  string
	}{
		{"not a node", NodeReport{}, false, live, clean, store.VerdictPass, ""},
		{"healthy node", healthy, true, live, clean, store.VerdictPass, ""},
		{"a node that measures no link", with(func(r *NodeReport) { r.Link = nil }), true, live, clean, store.VerdictPass, ""},
		{"camera offline", with(func(r *NodeReport) {
			r.Sources = append(r.Sources, NodeSource{ID: "cam2", State: "offline", Error: "connection refused by 192.168.1.21:554"})
		}), true, live, clean, store.VerdictFail, "point node: camera cam2 is offline: connection refused"},
		{"disk too small", with(func(r *NodeReport) { r.DiskFreeBytes = 3 * gb }), true, live, clean, store.VerdictFail, "point node: disk has 3.0 GiB free, the planned session needs 10.0 GiB"},
		{"not recording", with(func(r *NodeReport) { r.Recording = false }), true, live, clean, store.VerdictWarn, "not recording its own program"},
		{"stale report", with(func(r *NodeReport) { r.ReceivedAt = fresh.Add(-2 * time.Minute) }), true, live, clean, store.VerdictWarn, "point node: no report for 2m"},
		{"program 6 % lost", with(func(r *NodeReport) { r.Link.Send.LossPct = 6 }), true, live, clean, store.VerdictFail,
			"point node: 6.0 % of the packets of its program to the hub are lost on the way"},
		{"program 2 % lost", with(func(r *NodeReport) { r.Link.Send.LossPct = 2 }), true, live, clean, store.VerdictWarn,
			"point node: 2.0 % of the packets of its program to the hub are lost on the way (last 10 s; repaired"},
		{"program under half its bitrate", with(func(r *NodeReport) { r.Link.Send.BitrateKbps = 200 }), true, live, clean, store.VerdictWarn,
			"point node: sends its program to the hub at 200 kbit/s, under half of the 500 kbit/s"},
		{"program not sent", with(func(r *NodeReport) { r.Link.Send = NodeLeg{State: "offline", Error: "POST offer: 403 Forbidden"} }), true, live, clean, store.VerdictWarn,
			"point node: its program to the hub is offline: POST offer: 403 Forbidden"},
		{"program session not running", with(func(r *NodeReport) { r.Link.Send = NodeLeg{State: "idle"} }), true, live, clean, store.VerdictWarn,
			"its program to the hub is idle: the node's program session is not running"},
		{"long round trip", with(func(r *NodeReport) { r.Link.Send.RTTMS = 450 }), true, live, clean, store.VerdictWarn,
			"point node: round trip of its program to the hub 450 ms"},
		{"return feed 7 % lost", with(func(r *NodeReport) { r.Link.Return.LossPct = 7 }), true, live, clean, store.VerdictFail,
			"point node: 7.0 % of the packets of the return feed from the hub are lost on the way"},
		{"return feed thin", with(func(r *NodeReport) { r.Link.Return.BitrateKbps = 100 }), true, live, clean, store.VerdictWarn,
			"point node: receives the return feed from the hub at 100 kbit/s, under half of the 500 kbit/s"},
		{"return feed offline while the session runs", with(func(r *NodeReport) { r.Link.Return = NodeLeg{State: "offline"} }), true, live, clean, store.VerdictWarn,
			"point node: the return feed from the hub is offline: not connected"},
		{"return feed offline while the session is idle", with(func(r *NodeReport) { r.Link.Return = NodeLeg{State: "offline"} }), true, idle, clean, store.VerdictPass, ""},
		{"the hub sees 6 % lost", healthy, true, live, ingest.Status{State: ingest.StateOnline, Net: &ingest.NetStats{PathLossPct: 6}}, store.VerdictFail,
			"point node: the hub receives its program with 6.0 % of the packets lost on the way"},
		{"the hub sees 1.5 % lost", healthy, true, live, ingest.Status{State: ingest.StateOnline, Net: &ingest.NetStats{PathLossPct: 1.5}}, store.VerdictWarn,
			"point node: the hub receives its program with 1.5 % of the packets lost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Checker{deps: Deps{
				Node: func(sessionID, point string) (NodeReport, bool) {
					if sessionID != "phien" || point != "xa-a" {
						t.Errorf("asked for %s/%s", sessionID, point)
					}
					return tc.rep, tc.has
				},
				Source: func(id string) (ingest.Status, bool) {
					if id != "xa-a" {
						t.Errorf("asked for source %s", id)
					}
					return tc.hubView, true
				},
			}}
			pc := store.PointCheck{PointID: "xa-a", Source: "xa-a", Verdict: store.VerdictPass}
			c.checkNode(tc.sess, &pc)
			if pc.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s (%v)", pc.Verdict, tc.verdict, pc.Reasons)
			}
			if got := strings.Join(pc.Reasons, "; "); !strings.Contains(got, tc.reason) || (tc.reason == "" && got != "") {
				t.Errorf("reasons %q, want %q", got, tc.reason)
			}
		})
	}
}

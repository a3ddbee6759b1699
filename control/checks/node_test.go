package checks

import (
	"strings"
	"testing"
	"time"

	"diemcau/control/store"
)

// TestCheckNode: a point node's own report grades its point: a camera
// offline or a disk too small for the planned session fails it, a stale
// report or no recording warns, a node with nothing wrong passes.
func TestCheckNode(t *testing.T) {
	const gb = 1 << 30
	fresh := time.Now()
	healthy := NodeReport{Sources: []NodeSource{{ID: "cam", State: "online"}}, DiskFreeBytes: 100 * gb, DiskNeedBytes: 10 * gb, Recording: true, ReceivedAt: fresh}
	with := func(f func(*NodeReport)) NodeReport {
		r := healthy
		r.Sources = append([]NodeSource(nil), r.Sources...)
		f(&r)
		return r
	}
	tests := []struct {
		name    string
		rep     NodeReport
		has     bool
		verdict string
		reason  string
	}{
		{"not a node", NodeReport{}, false, store.VerdictPass, ""},
		{"healthy node", healthy, true, store.VerdictPass, ""},
		{"camera offline", with(func(r *NodeReport) {
			r.Sources = append(r.Sources, NodeSource{ID: "cam2", State: "offline", Error: "connection refused by 192.168.1.21:554"})
		}), true, store.VerdictFail, "point node: camera cam2 is offline: connection refused"},
		{"disk too small", with(func(r *NodeReport) { r.DiskFreeBytes = 3 * gb }), true, store.VerdictFail, "point node: disk has 3.0 GiB free, the planned session needs 10.0 GiB"},
		{"not recording", with(func(r *NodeReport) { r.Recording = false }), true, store.VerdictWarn, "not recording its own program"},
		{"stale report", with(func(r *NodeReport) { r.ReceivedAt = fresh.Add(-2 * time.Minute) }), true, store.VerdictWarn, "point node: no report for 2m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Checker{deps: Deps{Node: func(sessionID, point string) (NodeReport, bool) {
				if sessionID != "phien" || point != "xa-a" {
					t.Errorf("asked for %s/%s", sessionID, point)
				}
				return tc.rep, tc.has
			}}}
			pc := store.PointCheck{PointID: "xa-a", Verdict: store.VerdictPass}
			c.checkNode("phien", &pc)
			if pc.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s (%v)", pc.Verdict, tc.verdict, pc.Reasons)
			}
			if got := strings.Join(pc.Reasons, "; "); !strings.Contains(got, tc.reason) || (tc.reason == "" && got != "") {
				t.Errorf("reasons %q, want %q", got, tc.reason)
			}
		})
	}
}

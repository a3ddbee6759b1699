package checks

import (
	"fmt"
	"time"

	"diemcau/control/store"
	"diemcau/ingest"
)

// NodeReport is what a point node (a commune's own diemcau) tells its hub
// about itself, every few seconds over its point invite: its cameras, its
// disk for the planned session, its recording. The hub's check of that
// point then covers the node's end of the chain too.
type NodeReport struct {
	Sources       []NodeSource `json:"sources"`
	DiskFreeBytes int64        `json:"disk_free_bytes"`
	// DiskNeedBytes is what the node's planned session needs: its
	// bitrates over the planned duration, plus the space it keeps free.
	DiskNeedBytes int64  `json:"disk_need_bytes"`
	Recording     bool   `json:"recording"`
	Version       string `json:"version,omitempty"`
	// Link is the node's link to the hub as the node measures it; absent
	// from a node that does not measure it.
	Link *NodeLink `json:"link,omitempty"`
	// ReceivedAt is set by the hub when the report arrives.
	ReceivedAt time.Time `json:"received_at"`
}

// NodeSource is one camera of a point node.
type NodeSource struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// nodeStale: a node that has not reported for this long is not trusted;
// it reports every few seconds while its link is up.
const nodeStale = 30 * time.Second

// checkNode adds a point node's own report to its point's check: its
// cameras, disk, recording and link (node_link.go).
func (c *Checker) checkNode(sess store.Session, pc *store.PointCheck) {
	if c.deps.Node == nil {
		return
	}
	rep, ok := c.deps.Node(sess.ID, pc.PointID)
	if !ok {
		return // not a point node: a camera or an encoder
	}
	note := func(verdict, format string, args ...any) {
		pc.Verdict = worse(pc.Verdict, verdict)
		pc.Reasons = append(pc.Reasons, fmt.Sprintf(format, args...))
	}
	if age := time.Since(rep.ReceivedAt); age > nodeStale {
		note(store.VerdictWarn, "point node: no report for %s (its link or the node itself is down)", age.Round(time.Second))
	}
	for _, s := range rep.Sources {
		if s.State != "online" {
			msg := s.Error
			if msg == "" {
				msg = "no signal"
			}
			note(store.VerdictFail, "point node: camera %s is %s: %s", s.ID, s.State, msg)
		}
	}
	if rep.DiskNeedBytes > 0 && rep.DiskFreeBytes < rep.DiskNeedBytes {
		note(store.VerdictFail, "point node: disk has %s free, the planned session needs %s", gib(rep.DiskFreeBytes), gib(rep.DiskNeedBytes))
	}
	if !rep.Recording {
		note(store.VerdictWarn, "point node: not recording its own program")
	}
	var st ingest.Status
	have := false
	if c.deps.Source != nil {
		st, have = c.deps.Source(pc.Source)
	}
	checkNodeLink(sess, rep.Link, st, have, note)
}

func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

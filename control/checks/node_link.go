package checks

import (
	"diemcau/control/store"
	"diemcau/ingest"
)

// NodeLink is a point node's link to its hub as the node measures it over
// the real path: its program going out (WHIP) and its return feed coming
// in (WHEP).
type NodeLink struct {
	Send   NodeLeg `json:"send"`
	Return NodeLeg `json:"return"`
	// ProgramKbps is the bitrate the node's program is configured for
	// (its session's output.bitrate).
	ProgramKbps int `json:"program_kbps"`
}

// NodeLeg is one direction of a node's link.
type NodeLeg struct {
	// State: online, connecting, offline; idle when the node's program
	// session does not run (nothing to send).
	State       string  `json:"state"`
	Error       string  `json:"error,omitempty"`
	BitrateKbps float64 `json:"bitrate_kbps"`
	// LossPct is the share of packets lost on the path over the last
	// 10 s, before retransmission repaired most of them.
	LossPct  float64 `json:"loss_pct"`
	RTTMS    float64 `json:"rtt_ms"`
	JitterMS float64 `json:"jitter_ms"`
}

// What the check tolerates on a point's link. Retransmission hides a loss
// of a few % from the picture while the round trip is short; past 5 % the
// picture breaks up between keyframes. A round trip past 300 ms makes the
// points talk over each other. A leg carrying under half its configured
// bitrate has a line or an encoder that cannot keep up.
const (
	linkLossWarnPct = 1.0
	linkLossFailPct = 5.0
	linkRTTWarnMS   = 300.0
	linkRateShare   = 0.5
)

// checkNodeLink judges a node's link: the node's own figures for both
// directions and, for the program, the hub's own view of what arrives
// (source, the point's source here). The return feed is judged only
// while the session runs: the hub sends it only then.
func checkNodeLink(sess store.Session, l *NodeLink, source ingest.Status, haveSource bool, note func(verdict, format string, args ...any)) {
	if l != nil {
		judgeLeg("its program to the hub", "sends", l.Send, l.ProgramKbps, note)
		if sess.State == store.StateRehearsal || sess.State == store.StateLive {
			judgeLeg("the return feed from the hub", "receives", l.Return, sess.Output.Bitrate, note)
		}
	}
	if n := source.Net; haveSource && n != nil && source.State == ingest.StateOnline {
		switch {
		case n.PathLossPct >= linkLossFailPct:
			note(store.VerdictFail, "point node: the hub receives its program with %.1f %% of the packets lost on the way (last 10 s; over %.0f %% the picture breaks up)", n.PathLossPct, linkLossFailPct)
		case n.PathLossPct >= linkLossWarnPct:
			note(store.VerdictWarn, "point node: the hub receives its program with %.1f %% of the packets lost on the way (last 10 s; repaired by retransmission so far)", n.PathLossPct)
		}
	}
}

// judgeLeg grades one direction; what names it, verb is what the node
// does with it, want the bitrate it is configured for (0: unknown).
func judgeLeg(what, verb string, leg NodeLeg, want int, note func(verdict, format string, args ...any)) {
	if leg.State != "online" {
		why := leg.Error
		if why == "" && leg.State == "idle" {
			why = "the node's program session is not running, so the path is not measured"
		}
		if why == "" {
			why = "not connected"
		}
		note(store.VerdictWarn, "point node: %s is %s: %s", what, leg.State, why)
		return
	}
	switch {
	case leg.LossPct >= linkLossFailPct:
		note(store.VerdictFail, "point node: %.1f %% of the packets of %s are lost on the way (last 10 s; over %.0f %% the picture breaks up: check the line, or lower the bitrate)", leg.LossPct, what, linkLossFailPct)
	case leg.LossPct >= linkLossWarnPct:
		note(store.VerdictWarn, "point node: %.1f %% of the packets of %s are lost on the way (last 10 s; repaired by retransmission so far)", leg.LossPct, what)
	}
	if want > 0 && leg.BitrateKbps < linkRateShare*float64(want) {
		note(store.VerdictWarn, "point node: %s %s at %.0f kbit/s, under half of the %d kbit/s it is configured for (the line or the encoder does not keep up)", verb, what, leg.BitrateKbps, want)
	}
	if leg.RTTMS > linkRTTWarnMS {
		note(store.VerdictWarn, "point node: round trip of %s %.0f ms (over %.0f ms the points talk over each other)", what, leg.RTTMS, linkRTTWarnMS)
	}
}

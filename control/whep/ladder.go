package whep

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"

	"diemcau/pipeline"
)

// A viewer of a stream with renditions moves down to the low one when its
// path cannot carry the main one, and back up when it can again. What the
// viewer's browser reports decides: its receiver reports (the share of
// packets lost, and the round trip) and, where it sends them, its REMB
// estimates of the bandwidth. A move happens at the next keyframe of the
// other rendition (rendition.go), so it costs no stall.
const (
	// downLoss: this share of the video lost in ladderBadReports reports
	// in a row (about a second apart) moves a viewer down.
	downLoss         = 0.08
	ladderBadReports = 2
	// heavyLoss in one report moves it down at once: the link is far too
	// narrow and every picture meanwhile is broken.
	heavyLoss = 0.25
	// upLoss: under this share a report counts as clean; after
	// ladderUpWait of clean reports on the low rendition the viewer tries
	// the main one again.
	upLoss = 0.02
	// ladderUpWait grows (doubling, to ladderUpWaitMax) each time a try
	// up fails within ladderUpTrial, and starts again once the viewer has
	// stayed up for ladderUpStable.
	ladderUpWait    = 8 * time.Second
	ladderUpWaitMax = 64 * time.Second
	ladderUpTrial   = 10 * time.Second
	ladderUpStable  = 30 * time.Second
	// rembMargin: REMB estimates under what the viewer's rendition sends
	// times this, rembLowReports in a row, move it down, once rembSettle
	// has passed since its first report: a browser's receive-side
	// estimate starts low and climbs (Chromium's read 320 kbit/s at 3 s of
	// a 2 Mbit/s stream it played well). It never moves a viewer up: it
	// stays under 1.5 × what arrives, so on the low rendition it cannot
	// say that the main one fits; a try up after clean reports does.
	rembMargin     = 0.5
	rembLowReports = 3
	rembSettle     = 10 * time.Second
)

// ladderControl is one viewer's controller, fed by its video RTCP reader
// goroutine. cur is the rendition the viewer is on (0 main, 1 low).
type ladderControl struct {
	rungs   int
	first   time.Time // the first report
	rembLow int       // REMB reports under rembMargin in a row
	bad     int       // loss reports over downLoss in a row
	clean   time.Time // start of the present run of clean reports; zero when the last was not clean
	upAt    time.Time // when the viewer last tried up
	upWait  time.Duration
}

func newLadderControl(rungs int) *ladderControl {
	return &ladderControl{rungs: rungs, upWait: ladderUpWait}
}

// report takes one receiver report (loss share of the video since the last
// one), the latest REMB estimate in bit/s (0: none) and what the viewer's
// rendition sends it now, kbit/s; it returns the rendition wanted.
func (c *ladderControl) report(now time.Time, cur int, loss, remb, sentKbps float64) int {
	if c.rungs < 2 {
		return 0
	}
	if c.first.IsZero() {
		c.first = now
	}
	if now.Sub(c.first) >= rembSettle && remb > 0 && sentKbps > 0 && remb < rembMargin*sentKbps*1000 {
		c.rembLow++
	} else {
		c.rembLow = 0
	}
	if loss >= downLoss {
		c.bad++
	} else {
		c.bad = 0
	}
	if loss < upLoss {
		if c.clean.IsZero() {
			c.clean = now
		}
	} else {
		c.clean = time.Time{}
	}
	rembLow := c.rembLow >= rembLowReports
	switch cur {
	case 0:
		if c.bad >= ladderBadReports || loss >= heavyLoss || rembLow {
			if !c.upAt.IsZero() && now.Sub(c.upAt) < ladderUpTrial {
				c.upWait = min(2*c.upWait, ladderUpWaitMax) // the try up failed
			}
			c.bad, c.rembLow, c.clean = 0, 0, time.Time{}
			return 1
		}
		if !c.upAt.IsZero() && now.Sub(c.upAt) > ladderUpStable {
			c.upWait = ladderUpWait
		}
		return 0
	default:
		if !c.clean.IsZero() && now.Sub(c.clean) >= c.upWait {
			c.upAt, c.bad, c.clean = now, 0, time.Time{}
			return 0
		}
		return cur
	}
}

// pathStats are one viewer's path as its receiver reports say, for status
// and metrics; written by its video RTCP reader.
type pathStats struct {
	lossPct   atomic.Uint64 // float64 bits: the last report's video loss, %
	rttMS     atomic.Uint64 // float64 bits; 0 before one could be measured
	rembBPS   atomic.Uint64 // the last REMB estimate, bit/s; 0 without
	sentKbps  atomic.Uint64 // float64 bits: the video sent to it, kbit/s, between its last two reports
	lastBytes uint64        // reader only
	lastAt    time.Time     // reader only
}

func storeF(a *atomic.Uint64, v float64) { a.Store(math.Float64bits(v)) }
func loadF(a *atomic.Uint64) float64     { return math.Float64frombits(a.Load()) }

// onReceiverReport reads one report block about v's video: loss and round
// trip, then lets the controller choose the rendition.
func (v *viewer) onReceiverReport(bd *binding, r rtcp.ReceptionReport, now time.Time) {
	p := &v.path
	storeF(&p.lossPct, 100*float64(r.FractionLost)/256)
	if r.LastSenderReport != 0 {
		// LSR and DLSR are in 1/65536 s, as is the middle of our clock's NTP
		// time now: what is left is the round trip.
		mid := uint32(ntpTime(now) >> 16)
		if d := mid - r.LastSenderReport - r.Delay; d < 1<<30 {
			storeF(&p.rttMS, float64(d)*1000/65536)
		}
	}
	bytes := bd.sentB.Load()
	if !p.lastAt.IsZero() {
		if secs := now.Sub(p.lastAt).Seconds(); secs > 0.2 {
			storeF(&p.sentKbps, float64(bytes-p.lastBytes)*8/1000/secs)
		}
	}
	p.lastBytes, p.lastAt = bytes, now
	if v.ladder == nil {
		return
	}
	cur := int(bd.on.Load())
	want := v.ladder.report(now, cur, float64(r.FractionLost)/256, float64(p.rembBPS.Load()), loadF(&p.sentKbps))
	if want != int(bd.want.Load()) {
		v.setRendition(want)
		v.srv.log.Debug("viewer rendition", "viewer", v.id, "to", renditionName(want), "loss_pct", loadF(&p.lossPct),
			"rtt_ms", math.Round(loadF(&p.rttMS)), "remb_kbps", p.rembBPS.Load()/1000, "sent_kbps", math.Round(loadF(&p.sentKbps)))
	}
}

func renditionName(i int) string {
	if i == 0 {
		return "main"
	}
	return "low"
}

// ViewerStats is one WHEP viewer of a session as its status and the
// metrics show it: the rendition it is on and its path as its receiver
// reports say.
type ViewerStats struct {
	ID    string `json:"id"`
	Point string `json:"point,omitempty"` // a return feed's point; "" for the composite
	// Rendition is "main" or "low" (a session with a low rendition moves
	// viewers between them with their bandwidth).
	Rendition string `json:"rendition"`
	// BandwidthKbps is the viewer's bandwidth as best known: its browser's
	// REMB estimate where it sends one (BandwidthFrom "remb"), else the
	// video that reached it, sent × (1 − loss) ("delivered"), which is a
	// floor, not the path's capacity.
	BandwidthKbps float64 `json:"bandwidth_kbps"`
	BandwidthFrom string  `json:"bandwidth_from"`
	// LossPct is the video lost in its last receiver report, %.
	LossPct float64 `json:"loss_pct"`
	// RTTMS is the round trip from its receiver reports; 0 until known.
	RTTMS float64 `json:"rtt_ms"`
	// Moves counts its moves between renditions.
	Moves uint64 `json:"rendition_moves"`
}

// ViewerStats are the connected viewers of a session (composite and
// return feeds), in no particular order.
func (s *Server) ViewerStats(session string) []ViewerStats {
	s.mu.Lock()
	var vs []*viewer
	for _, v := range s.viewers {
		if v.target.Session == session && v.connected.Load() {
			vs = append(vs, v)
		}
	}
	s.mu.Unlock()
	out := make([]ViewerStats, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.stats())
	}
	return out
}

func (v *viewer) stats() ViewerStats {
	st := ViewerStats{ID: v.id, Point: v.target.Point, Rendition: "main", BandwidthFrom: "delivered"}
	p := &v.path
	st.LossPct, st.RTTMS = math.Round(10*loadF(&p.lossPct))/10, math.Round(10*loadF(&p.rttMS))/10
	for _, t := range v.tracks {
		if bd := t.binding(); bd != nil && bd.kind == pipeline.Video {
			st.Rendition = renditionName(int(bd.on.Load()))
			st.Moves = bd.moves.Load()
		}
	}
	if remb := p.rembBPS.Load(); remb > 0 {
		st.BandwidthKbps, st.BandwidthFrom = math.Round(float64(remb)/1000), "remb"
	} else {
		st.BandwidthKbps = math.Round(loadF(&p.sentKbps) * (1 - loadF(&p.lossPct)/100))
	}
	return st
}

package control

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// linkCollector exports each session output's path figures at scrape
// time: direction "out" is what the output sends (its own measures), and
// on a point node's link to its hub, direction "in" is the return feed
// it receives.
type linkCollector struct {
	s *Server

	up, bitrate, rtt, loss, lost, jitter *prometheus.Desc
}

func newLinkCollector(s *Server) *linkCollector {
	l := []string{"session", "output", "direction"}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, l, nil) }
	return &linkCollector{
		s:       s,
		up:      d("diemcau_link_up", "1 while the output (out) or the point node's return feed (in) is online."),
		bitrate: d("diemcau_link_bitrate_kbps", "Bitrate sent (out) or received (in) over the last 10 s, kbit/s."),
		rtt:     d("diemcau_link_rtt_seconds", "Round trip to the far end: from its RTCP receiver reports (out), from ICE's consent checks (in); 0 until measured."),
		loss: d("diemcau_link_loss_ratio",
			"Share of the packets lost on the path over the last 10 s, before retransmission repaired most: asked for again or reported lost by the far end (out), sequence gaps (in)."),
		lost:   d("diemcau_link_packets_lost_total", "Packets lost on the path this connection, before repair."),
		jitter: d("diemcau_link_jitter_seconds", "Video interarrival jitter: as the far end reports it (out), as received (in)."),
	}
}

func (c *linkCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.bitrate, c.rtt, c.loss, c.lost, c.jitter} {
		ch <- d
	}
}

func (c *linkCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.deps.Outputs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	list, err := c.s.deps.Store.ListSessions(ctx)
	if err != nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	for _, sess := range list {
		for _, o := range c.s.deps.Outputs(sess.ID) {
			out := []string{sess.ID, o.Name, "out"}
			gauge(c.up, b2f(o.State == "online"), out...)
			if k := o.Link; k != nil {
				gauge(c.bitrate, k.BitrateKbps, out...)
				gauge(c.rtt, k.RTTMS/1000, out...)
				gauge(c.loss, k.LossPct/100, out...)
				ch <- prometheus.MustNewConstMetric(c.lost, prometheus.CounterValue, float64(k.PacketsLost), out...)
				gauge(c.jitter, k.JitterMS/1000, out...)
			}
			if r := o.ReturnFeed; r != nil {
				in := []string{sess.ID, o.Name, "in"}
				gauge(c.up, b2f(r.State == "online"), in...)
				gauge(c.bitrate, r.BitrateKbps, in...)
				gauge(c.rtt, r.RTTMS/1000, in...)
				gauge(c.loss, r.PathLossPct/100, in...)
				ch <- prometheus.MustNewConstMetric(c.lost, prometheus.CounterValue, float64(r.PathLost), in...)
				gauge(c.jitter, r.JitterMS/1000, in...)
			}
		}
	}
}

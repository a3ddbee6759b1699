package control

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"diemcau/control/checks"
	"diemcau/ingest"
)

// sourceCollector reads every source's status at scrape time, so the
// packet path never touches a metric.
type sourceCollector struct {
	sources Sources

	up, fps, bitrate, frames, lost, reconnects, state, clockOffset *prometheus.Desc
	// sub: the same figures of a camera's sub-stream (diemcau_source_sub_…).
	sub *subDescs
}

// subDescs are the figures of a source's sub-stream, only for sources
// that have one.
type subDescs struct {
	up, fps, bitrate, frames, lost, reconnects *prometheus.Desc
}

func newSourceCollector(sources Sources) *sourceCollector {
	l := []string{"source"}
	return &sourceCollector{
		sources:    sources,
		up:         prometheus.NewDesc("diemcau_source_up", "1 while the source delivers frames.", l, nil),
		state:      prometheus.NewDesc("diemcau_source_state", "1 for the source's current state.", []string{"source", "state"}, nil),
		fps:        prometheus.NewDesc("diemcau_source_fps", "Video frames per second received.", l, nil),
		bitrate:    prometheus.NewDesc("diemcau_source_bitrate_kbps", "Bitrate received, kbit/s.", l, nil),
		frames:     prometheus.NewDesc("diemcau_source_frames_total", "Frames received.", l, nil),
		lost:       prometheus.NewDesc("diemcau_source_packets_lost_total", "RTP packets lost.", l, nil),
		reconnects: prometheus.NewDesc("diemcau_source_reconnects_total", "Reconnections after a loss.", l, nil),
		clockOffset: prometheus.NewDesc("diemcau_source_clock_offset_seconds",
			"Camera wall clock minus the server's, from its RTCP sender reports; absent when it sends none.", l, nil),
		sub: &subDescs{
			up:         prometheus.NewDesc("diemcau_source_sub_up", "1 while the source's sub-stream delivers frames.", l, nil),
			fps:        prometheus.NewDesc("diemcau_source_sub_fps", "Sub-stream video frames per second received.", l, nil),
			bitrate:    prometheus.NewDesc("diemcau_source_sub_bitrate_kbps", "Sub-stream bitrate received, kbit/s.", l, nil),
			frames:     prometheus.NewDesc("diemcau_source_sub_frames_total", "Sub-stream frames received.", l, nil),
			lost:       prometheus.NewDesc("diemcau_source_sub_packets_lost_total", "Sub-stream RTP packets lost.", l, nil),
			reconnects: prometheus.NewDesc("diemcau_source_sub_reconnects_total", "Sub-stream reconnections after a loss.", l, nil),
		},
	}
}

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.state, c.fps, c.bitrate, c.frames, c.lost, c.reconnects, c.clockOffset,
		c.sub.up, c.sub.fps, c.sub.bitrate, c.sub.frames, c.sub.lost, c.sub.reconnects} {
		ch <- d
	}
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.sources.List() {
		up := 0.0
		if st.State == ingest.StateOnline {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, st.ID)
		for _, s := range []ingest.State{ingest.StateConnecting, ingest.StateOnline, ingest.StateOffline, ingest.StateError} {
			v := 0.0
			if st.State == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, st.ID, string(s))
		}
		fps := 0.0
		if st.Video != nil {
			fps = st.Video.FPS
		}
		ch <- prometheus.MustNewConstMetric(c.fps, prometheus.GaugeValue, fps, st.ID)
		ch <- prometheus.MustNewConstMetric(c.bitrate, prometheus.GaugeValue, st.BitrateKbps, st.ID)
		ch <- prometheus.MustNewConstMetric(c.frames, prometheus.CounterValue, float64(st.Frames), st.ID)
		ch <- prometheus.MustNewConstMetric(c.lost, prometheus.CounterValue, float64(st.PacketsLost), st.ID)
		ch <- prometheus.MustNewConstMetric(c.reconnects, prometheus.CounterValue, float64(st.Reconnects), st.ID)
		if st.ClockOffsetS != nil {
			ch <- prometheus.MustNewConstMetric(c.clockOffset, prometheus.GaugeValue, *st.ClockOffsetS, st.ID)
		}
		if st.Sub != nil {
			c.sub.collect(ch, st.ID, *st.Sub)
		}
	}
}

func (d *subDescs) collect(ch chan<- prometheus.Metric, id string, st ingest.Status) {
	up, fps := 0.0, 0.0
	if st.State == ingest.StateOnline {
		up = 1
	}
	if st.Video != nil {
		fps = st.Video.FPS
	}
	ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, up, id)
	ch <- prometheus.MustNewConstMetric(d.fps, prometheus.GaugeValue, fps, id)
	ch <- prometheus.MustNewConstMetric(d.bitrate, prometheus.GaugeValue, st.BitrateKbps, id)
	ch <- prometheus.MustNewConstMetric(d.frames, prometheus.CounterValue, float64(st.Frames), id)
	ch <- prometheus.MustNewConstMetric(d.lost, prometheus.CounterValue, float64(st.PacketsLost), id)
	ch <- prometheus.MustNewConstMetric(d.reconnects, prometheus.CounterValue, float64(st.Reconnects), id)
}

// newMetricsHandler builds the registry of GET /metrics: Go runtime and
// process figures, build info, and the sources. Other components add
// their collectors through Server.Registry.
func (s *Server) newMetricsHandler() http.Handler {
	reg := s.registry
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "diemcau"}))
	reg.MustRegister(newConnCollector(s))
	if s.deps.Sources != nil {
		reg.MustRegister(newSourceCollector(s.deps.Sources))
	}
	if s.deps.Store != nil {
		reg.MustRegister(newSessionCollector(s), newLinkCollector(s))
	}
	if s.deps.Recordings != nil {
		root := s.deps.Recordings.Root()
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "diemcau_archive_disk_free_bytes", Help: "Free space at the archive root.",
		}, func() float64 {
			n, err := checks.FreeBytes(root)
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
	if s.deps.Info != nil {
		info := s.deps.Info()
		bi := prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "diemcau_build_info", Help: "Version, GStreamer and the codec elements chosen; always 1.",
			ConstLabels: prometheus.Labels{"version": info.Version, "gstreamer": info.GStreamer, "encoder": info.Encoder.Element, "decoder": info.Decoder.Element},
		})
		bi.Set(1)
		hw := prometheus.NewGauge(prometheus.GaugeOpts{Name: "diemcau_encoder_hardware", Help: "1 when the composite encoder is a hardware one.", ConstLabels: prometheus.Labels{"element": info.Encoder.Element}})
		if info.Encoder.Hardware {
			hw.Set(1)
		}
		reg.MustRegister(bi, hw)
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

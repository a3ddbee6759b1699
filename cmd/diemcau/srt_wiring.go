package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"diemcau/ingest"
	srtin "diemcau/ingest/srt"
)

// newSRTIngest makes the SRT listener when srt.listen is set, and has the
// registry make srt:// sources on it; nil when SRT is off.
func newSRTIngest(cfg *Config, reg *ingest.Registry, log *slog.Logger) (*srtin.Server, error) {
	if cfg.SRT.Listen == "" {
		return nil, nil
	}
	srv, err := srtin.New(srtin.Config{Listen: cfg.SRT.Listen, Latency: cfg.SRT.Latency}, log, reg.Get)
	if err != nil {
		return nil, fmt.Errorf("srt.listen: %w", err)
	}
	reg.SetFactory("srt", srv.NewSourceFactory())
	return srv, nil
}

// warnAnonymousSRT says at every start which srt:// sources anyone who
// reaches the SRT port may publish into (allow_anonymous).
func warnAnonymousSRT(reg *ingest.Registry, log *slog.Logger) {
	for _, st := range reg.List() {
		if st.AllowAnonymous && st.Transport == "srt" {
			log.Warn("srt source takes encoders without a passphrase: anyone who reaches the SRT port can publish into it and its record", "source", st.ID)
		}
	}
}

// runSRT runs the listener, if any, until ctx ends.
func runSRT(ctx context.Context, srv *srtin.Server) error {
	if srv == nil {
		return nil
	}
	return srv.Run(ctx)
}

// srtCollector exports SRT's own figures for each srt:// source, and the
// callers the listener refused, at scrape time.
type srtCollector struct {
	srv     *srtin.Server
	sources *ingest.Registry

	refused, rtt, recvRate, linkCapacity, received, lost, retrans, dropped, undecrypted *prometheus.Desc
}

func newSRTCollector(srv *srtin.Server, sources *ingest.Registry) *srtCollector {
	l := []string{"source"}
	return &srtCollector{
		srv:     srv,
		sources: sources,
		refused: prometheus.NewDesc("diemcau_srt_refused_total",
			"SRT callers refused, by reason: bad_streamid, not_publish, unknown_source, not_srt_source, wrong_passphrase, "+
				"no_passphrase, unexpected_passphrase, busy (a second encoder), not_running, accept_failed.", []string{"reason"}, nil),
		rtt:          prometheus.NewDesc("diemcau_source_srt_rtt_ms", "SRT smoothed round-trip time to the encoder, ms.", l, nil),
		recvRate:     prometheus.NewDesc("diemcau_source_srt_recv_rate_mbps", "SRT receiving rate, Mbit/s.", l, nil),
		linkCapacity: prometheus.NewDesc("diemcau_source_srt_link_capacity_mbps", "SRT's estimate of the link's capacity, Mbit/s.", l, nil),
		received:     prometheus.NewDesc("diemcau_source_srt_packets_received_total", "SRT data packets received (retransmissions included), this connection.", l, nil),
		lost:         prometheus.NewDesc("diemcau_source_srt_packets_lost_total", "SRT data packets found missing, this connection (most are then retransmitted).", l, nil),
		retrans:      prometheus.NewDesc("diemcau_source_srt_packets_retransmitted_total", "SRT data packets that arrived again after a loss, this connection.", l, nil),
		dropped:      prometheus.NewDesc("diemcau_source_srt_packets_dropped_total", "SRT data packets too late for the latency, this connection: holes in the stream.", l, nil),
		undecrypted:  prometheus.NewDesc("diemcau_source_srt_packets_undecrypted_total", "SRT data packets that could not be decrypted, this connection.", l, nil),
	}
}

func (c *srtCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.refused, c.rtt, c.recvRate, c.linkCapacity, c.received, c.lost, c.retrans, c.dropped, c.undecrypted} {
		ch <- d
	}
}

func (c *srtCollector) Collect(ch chan<- prometheus.Metric) {
	for reason, n := range c.srv.Refused() {
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(n), reason)
	}
	for _, st := range c.sources.List() {
		s := st.SRT
		if s == nil {
			continue
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, st.ID)
		}
		counter := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), st.ID)
		}
		gauge(c.rtt, s.RTTMS)
		gauge(c.recvRate, s.RecvRateMbps)
		gauge(c.linkCapacity, s.LinkCapacityMbps)
		counter(c.received, s.PacketsReceived)
		counter(c.lost, s.PacketsLost)
		counter(c.retrans, s.PacketsRetransmitted)
		counter(c.dropped, s.PacketsDropped)
		counter(c.undecrypted, s.PacketsUndecrypted)
	}
}

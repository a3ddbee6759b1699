package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"diemcau/control"
	"diemcau/control/whep"
	"diemcau/ingest"
)

// whipSources finds the running whip:// sources WHIP publishers feed.
func whipSources(reg *ingest.Registry) whep.WHIPSources {
	return func(id string) (*ingest.WHIPSource, bool) {
		src, ok := reg.Get(id)
		if !ok {
			return nil, false
		}
		w, ok := src.(*ingest.WHIPSource)
		return w, ok
	}
}

// whipAuthorizer: a whip:// source's publish secret, or a standing invite
// made for a point whose source it is. The grant goes with the publisher
// so that revoking the invite or ending the session ends it.
func whipAuthorizer(api *control.Server) whep.PublishAuthorizer {
	return func(r *http.Request, source string) (whep.Grant, error) {
		g, err := api.AuthorizeWHIP(r, source)
		if err != nil {
			status, msg := control.WHIPStatus(err)
			return whep.Grant{}, &whep.Refusal{Status: status, Message: msg}
		}
		return whep.Grant{Who: g.Who(), Invite: g.Invite, Session: g.Session}, nil
	}
}

// whipCollector exports each whip:// source's network figures and the
// refused WHIP offers, read at scrape time.
type whipCollector struct {
	srv                                              *whep.Server
	sources                                          *ingest.Registry
	loss, jitter, rtt, bitrate, nacks, plis, refused *prometheus.Desc
	pathLoss                                         *prometheus.Desc
}

func newWHIPCollector(srv *whep.Server, sources *ingest.Registry) *whipCollector {
	l := []string{"source"}
	return &whipCollector{srv: srv, sources: sources,
		loss: prometheus.NewDesc("diemcau_whip_loss_ratio", "Share of a WHIP publisher's RTP packets lost after retransmission (0-1).", l, nil),
		pathLoss: prometheus.NewDesc("diemcau_whip_path_loss_ratio",
			"Share of a WebRTC source's RTP packets that did not arrive when due over the last 10 s, before retransmission repaired most (0-1).", l, nil),
		jitter:  prometheus.NewDesc("diemcau_whip_jitter_seconds", "RTP interarrival jitter of a WHIP publisher's video.", l, nil),
		rtt:     prometheus.NewDesc("diemcau_whip_rtt_seconds", "Round trip to a WHIP publisher.", l, nil),
		bitrate: prometheus.NewDesc("diemcau_whip_bitrate_kbps", "What a WHIP publisher sends, kbit/s of RTP payload.", l, nil),
		nacks:   prometheus.NewDesc("diemcau_whip_nacks_total", "Retransmission requests sent to a WHIP publisher (its current connection).", l, nil),
		plis:    prometheus.NewDesc("diemcau_whip_keyframe_requests_total", "Keyframe requests sent to a WHIP publisher after a lost picture (its current connection).", l, nil),
		refused: prometheus.NewDesc("diemcau_whip_refused_total", "WHIP offers refused, by reason (unauthorized, forbidden, not_whip, busy, bad_sdp, no_video, unsupported_codec, …).", []string{"reason"}, nil),
	}
}

func (c *whipCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.loss, c.pathLoss, c.jitter, c.rtt, c.bitrate, c.nacks, c.plis, c.refused} {
		ch <- d
	}
}

func (c *whipCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.sources.List() {
		n := st.Net
		if n == nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.loss, prometheus.GaugeValue, n.LossPct/100, st.ID)
		ch <- prometheus.MustNewConstMetric(c.pathLoss, prometheus.GaugeValue, n.PathLossPct/100, st.ID)
		ch <- prometheus.MustNewConstMetric(c.jitter, prometheus.GaugeValue, n.JitterMS/1000, st.ID)
		ch <- prometheus.MustNewConstMetric(c.rtt, prometheus.GaugeValue, n.RTTMS/1000, st.ID)
		ch <- prometheus.MustNewConstMetric(c.bitrate, prometheus.GaugeValue, n.BitrateKbps, st.ID)
		ch <- prometheus.MustNewConstMetric(c.nacks, prometheus.CounterValue, float64(n.NACKsSent), st.ID)
		ch <- prometheus.MustNewConstMetric(c.plis, prometheus.CounterValue, float64(n.KeyframeRequests), st.ID)
	}
	for reason, v := range c.srv.PublishRefused() {
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(v), reason)
	}
}

package control

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"diemcau/control/store"
)

// sessionCollector reads every session's runtime status at scrape time.
type sessionCollector struct {
	s *Server

	state, viewers, mixFPS, mixDropped, mixLatency, mixRestarts, mixTimeSteps *prometheus.Desc
	recActive, recBytes, recSegments, recDiskStopped, recFsync                *prometheus.Desc
	audioPeak, audioRMS, audioSilent                                          *prometheus.Desc
	rendViewers, viewerKbps, viewerLoss, viewerRTT                            *prometheus.Desc
}

func newSessionCollector(s *Server) *sessionCollector {
	l := []string{"session"}
	sp := []string{"session", "point"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &sessionCollector{
		s:              s,
		state:          d("diemcau_session_state", "1 for the session's current state.", []string{"session", "state"}),
		viewers:        d("diemcau_session_viewers", "WHEP viewers of the session.", l),
		mixFPS:         d("diemcau_mixer_fps", "Composite frames encoded per second.", []string{"session", "encoder"}),
		mixDropped:     d("diemcau_mixer_dropped_frames_total", "Frames the mixer lost (late inputs, busy encoder).", l),
		mixLatency:     d("diemcau_mixer_latency_seconds", "Pipeline latency, point frame in to composite frame out.", []string{"session", "quantile"}),
		mixRestarts:    d("diemcau_mixer_codec_fallbacks_total", "Run-time switches to the next encoder or decoder after one failed.", []string{"session", "codec"}),
		mixTimeSteps:   d("diemcau_mixer_time_steps_total", "Times the compositor's timeline stepped back and later pictures were shifted to follow on.", l),
		recActive:      d("diemcau_recording_active", "1 while the session's archive run records.", l),
		recBytes:       d("diemcau_recording_bytes", "Bytes archived in the current run.", l),
		recSegments:    d("diemcau_recording_segments", "Segments closed in the current run.", l),
		recDiskStopped: d("diemcau_recording_disk_stopped", "1 while recording is paused for lack of disk.", l),
		recFsync:       d("diemcau_recording_fsync_p99_seconds", "p99 fsync latency of archive fragments.", l),
		audioPeak: d("diemcau_point_audio_peak_dbfs",
			"Peak level of a point's sound in the composite, before its gain and mute, loudest channel, last 100 ms; absent while none arrives.", sp),
		audioRMS: d("diemcau_point_audio_rms_dbfs",
			"RMS level of a point's sound in the composite, before its gain and mute, loudest channel, last 100 ms; absent while none arrives.", sp),
		rendViewers: d("diemcau_session_rendition_viewers", "WHEP viewers of the session on each rendition (main, low).", []string{"session", "rendition"}),
		viewerKbps: d("diemcau_viewer_bandwidth_kbps",
			"A WHEP viewer's bandwidth: its browser's REMB estimate where sent, else the video that reached it.", []string{"session", "viewer", "rendition", "from"}),
		viewerLoss: d("diemcau_viewer_loss_ratio", "Share of a WHEP viewer's video lost, from its last receiver report.", []string{"session", "viewer"}),
		viewerRTT:  d("diemcau_viewer_rtt_seconds", "A WHEP viewer's round trip, from its receiver reports.", []string{"session", "viewer"}),
		audioSilent: d("diemcau_point_audio_silent",
			"1 while a point's picture is live, it is not muted, and no sound has come from it for the alert's threshold (10 s).", sp),
	}
}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.viewers, c.mixFPS, c.mixDropped, c.mixLatency, c.mixRestarts, c.mixTimeSteps,
		c.recActive, c.recBytes, c.recSegments, c.recDiskStopped, c.recFsync, c.audioPeak, c.audioRMS, c.audioSilent,
		c.rendViewers, c.viewerKbps, c.viewerLoss, c.viewerRTT} {
		ch <- d
	}
}

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	list, err := c.s.deps.Store.ListSessions(ctx)
	if err != nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, sess := range list {
		for _, st := range []string{store.StateIdle, store.StateRehearsal, store.StateLive, store.StateEnded} {
			gauge(c.state, b2f(sess.State == st), sess.ID, st)
		}
		if c.s.deps.Viewers != nil {
			gauge(c.viewers, float64(c.s.deps.Viewers(sess.ID)), sess.ID)
		}
		if c.s.deps.ViewerStats != nil {
			on := map[string]int{}
			for _, v := range c.s.deps.ViewerStats(sess.ID) {
				on[v.Rendition]++
				gauge(c.viewerKbps, v.BandwidthKbps, sess.ID, v.ID, v.Rendition, v.BandwidthFrom)
				gauge(c.viewerLoss, v.LossPct/100, sess.ID, v.ID)
				if v.RTTMS > 0 {
					gauge(c.viewerRTT, v.RTTMS/1000, sess.ID, v.ID)
				}
			}
			for r, n := range on {
				gauge(c.rendViewers, float64(n), sess.ID, r)
			}
		}
		if c.s.deps.Sessions == nil {
			continue
		}
		live, ok := c.s.deps.Sessions.Status(sess.ID)
		if !ok {
			continue
		}
		if m := live.Mixer; m != nil {
			gauge(c.mixFPS, m.FPS, sess.ID, m.Encoder)
			ch <- prometheus.MustNewConstMetric(c.mixDropped, prometheus.CounterValue, float64(m.Dropped), sess.ID)
			gauge(c.mixLatency, m.LatencyP50Ms/1000, sess.ID, "0.5")
			gauge(c.mixLatency, m.LatencyP95Ms/1000, sess.ID, "0.95")
			gauge(c.mixLatency, m.LatencyP99Ms/1000, sess.ID, "0.99")
			counter := func(d *prometheus.Desc, v uint64, labels ...string) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
			}
			counter(c.mixRestarts, m.EncoderRestarts, sess.ID, "encoder")
			counter(c.mixRestarts, m.DecoderRestarts, sess.ID, "decoder")
			counter(c.mixTimeSteps, m.TimeSteps, sess.ID)
			for _, p := range m.Points {
				if p.Sound.Measured {
					gauge(c.audioPeak, p.Sound.PeakDBFS, sess.ID, p.ID)
					gauge(c.audioRMS, p.Sound.RMSDBFS, sess.ID, p.ID)
				}
				gauge(c.audioSilent, b2f(p.Sound.Silent), sess.ID, p.ID)
			}
		}
		r := live.Recording
		gauge(c.recActive, b2f(r.Active), sess.ID)
		gauge(c.recBytes, float64(r.Bytes), sess.ID)
		gauge(c.recSegments, float64(r.Segments), sess.ID)
		gauge(c.recDiskStopped, b2f(r.DiskStopped), sess.ID)
		gauge(c.recFsync, r.FsyncP99Ms/1000, sess.ID)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

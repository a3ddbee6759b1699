package mixer

import (
	"context"
	"time"

	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// decoderTrialTimeout bounds the trial of the next decoder, which runs on
// the owner goroutine: a few frames through a software decoder take well
// under it.
const decoderTrialTimeout = 2 * time.Second

// decoderFailed is called when a point's H.264 branch failed. A hardware
// decoder that fails at run time (a lost device, a session limit) gives
// way to the next candidate in docs/architecture.md's order for every branch built
// from now on, and the failed branch is rebuilt at once rather than after
// its back-off: the point's picture comes back within a second or so. A
// software decoder failing means the stream itself is bad: nothing to
// switch. Owner only.
func (m *Mixer) decoderFailed(mix *gst.Mix, r *pointRun) {
	cur := m.decoderChoice()
	if !cur.Hardware {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), decoderTrialTimeout)
	defer cancel()
	next, err := gst.NextDecoder(ctx, m.reg, cur, m.log)
	if err != nil {
		m.log.Error("hardware decoder failed and no other works", "element", cur.Element, "error", err)
		return
	}
	mix.SetDecoder(next.Fragment)
	m.decoder.Store(&next)
	m.decoderRestarts.Add(1)
	r.retryAt[kindSlot(pipeline.Video)] = time.Time{}
	m.log.Warn("decoder failed; switched to the next", "failed", cur.Element, "next", next.Element, "hardware", next.Hardware)
}

// decoderChoice is the decoder new branches are built with.
func (m *Mixer) decoderChoice() gst.Choice {
	if d := m.decoder.Load(); d != nil {
		return *d
	}
	return gst.Choice{Name: "avdec", Element: "avdec_h264", Fragment: "avdec_h264"}
}

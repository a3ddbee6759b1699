package camsim

import (
	"context"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/pion/rtp"

	"diemcau/ingest/rtcpsr"
)

// The cameras send their own RTCP sender reports, as real cameras do and
// as RFC 3550 has them (package rtcpsr): gortsplib's server writes a
// malformed NTP time, which no other reader decodes right, and a camera
// whose reports mislead its readers would test nothing.

// streamReports are one stream's reports, by media.
type streamReports map[*description.Media]*rtcpsr.Track

func newStreamReports(desc *description.Session) streamReports {
	r := streamReports{}
	for _, m := range desc.Medias {
		if len(m.Formats) > 0 {
			r[m] = rtcpsr.NewTrack(m.Formats[0].ClockRate())
		}
	}
	return r
}

// reportingWriter writes packets to a camera's stream and notes them for
// its reports; every packet's time is its wall time (no B-frames).
type reportingWriter struct {
	st      *gortsplib.ServerStream
	reports streamReports
}

func (w reportingWriter) WritePacketRTPWithNTP(m *description.Media, pkt *rtp.Packet, ntp time.Time) error {
	if err := w.st.WritePacketRTPWithNTP(m, pkt, ntp); err != nil {
		return err
	}
	if tr := w.reports[m]; tr != nil {
		tr.Wrote(pkt, ntp, true, time.Now())
	}
	return nil
}

// writer is the PacketWriter of the camera's current stream st (nil
// reports if st is no longer current: the packets still go out).
func (c *camera) writer(st *gortsplib.ServerStream) reportingWriter {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := reportingWriter{st: st}
	if st == c.stream {
		w.reports = c.reports
	}
	return w
}

// report sends the camera's sender reports every rtcpsr.Period until ctx
// ends.
func (c *camera) report(ctx context.Context) {
	rtcpsr.Every(ctx, func(now time.Time) {
		c.mu.Lock()
		st, reports := c.stream, c.reports
		c.mu.Unlock()
		if st == nil || !c.active.Load() {
			return
		}
		for m, tr := range reports {
			if sr, ok := tr.Report(now); ok {
				_ = st.WritePacketRTCP(m, sr)
			}
		}
	})
}

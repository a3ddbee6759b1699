package whep

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"diemcau/ingest/rtcpsr"
)

// Sender report timing: the first soon after a track starts (a browser
// plays picture and sound unsynchronised until it has one of each), then
// once a second.
const (
	firstSenderReport = 300 * time.Millisecond
	senderReportEvery = time.Second
)

// mediaClock maps the stream's frame times to the wall clock from one
// anchor for both tracks, for the sender reports. pion's own sender report
// interceptor maps each track's RTP time to the moment its packets were
// written; the composite's pictures are written about 25 ms after their
// time and its sound about 70 ms after (each encoder's latency), and a
// camera's sound may come in bursts, so a browser lining the tracks up by
// those reports played the sound late. The frames' own times put both on
// the timeline they were mixed (or captured) on.
type mediaClock struct {
	wall atomic.Int64 // unix ns of the anchor; 0 before the first frame
	pts  atomic.Int64 // the stream time at the anchor
}

// maxClockSkew: a frame this far from where the anchor places it means the
// stream's timeline jumped (a source restarted); it re-anchors.
const maxClockSkew = time.Second

// note anchors the clock at the first frame, and again when the stream's
// timeline jumped. Broadcaster goroutine only.
func (c *mediaClock) note(pts time.Duration, now time.Time) {
	wall := c.wall.Load()
	if wall != 0 {
		at := time.Duration(c.pts.Load()) + now.Sub(time.Unix(0, wall))
		if d := pts - at; d > -maxClockSkew && d < maxClockSkew {
			return
		}
	}
	c.pts.Store(int64(pts))
	c.wall.Store(now.UnixNano())
}

// at is the stream time at wall-clock time now; false before the first
// frame.
func (c *mediaClock) at(now time.Time) (time.Duration, bool) {
	wall := c.wall.Load()
	if wall == 0 {
		return 0, false
	}
	return time.Duration(c.pts.Load()) + now.Sub(time.Unix(0, wall)), true
}

// senderReportsFactory makes one viewer's sender report interceptor; rtpAt
// is the RTP time of a track (video or not, at its clock rate) at a
// wall-clock time, from the broadcaster.
type senderReportsFactory struct {
	rtpAt func(video bool, clockRate uint32, now time.Time) (uint32, bool)
}

func (f senderReportsFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &senderReports{rtpAt: f.rtpAt, streams: map[uint32]*reportedStream{}, done: make(chan struct{})}, nil
}

// senderReports writes RTCP sender reports for one viewer's tracks.
type senderReports struct {
	interceptor.NoOp
	rtpAt func(video bool, clockRate uint32, now time.Time) (uint32, bool)

	mu      sync.Mutex
	streams map[uint32]*reportedStream
	started bool
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup
}

type reportedStream struct {
	video           bool
	clockRate       uint32
	packets, octets atomic.Uint32
}

func (s *senderReports) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started && !s.closed {
		s.started = true
		s.wg.Add(1)
		go s.loop(w)
	}
	return w
}

func (s *senderReports) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	st := &reportedStream{video: len(info.MimeType) > 6 && info.MimeType[:6] == "video/", clockRate: info.ClockRate}
	s.mu.Lock()
	s.streams[info.SSRC] = st
	s.mu.Unlock()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		st.packets.Add(1)
		st.octets.Add(uint32(len(payload)))
		return w.Write(h, payload, a)
	})
}

func (s *senderReports) UnbindLocalStream(info *interceptor.StreamInfo) {
	s.mu.Lock()
	delete(s.streams, info.SSRC)
	s.mu.Unlock()
}

func (s *senderReports) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *senderReports) loop(w interceptor.RTCPWriter) {
	defer s.wg.Done()
	t := time.NewTimer(firstSenderReport)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		if reports := s.reports(time.Now()); len(reports) > 0 {
			// A write fails only once the connection is closing.
			_, _ = w.Write(reports, interceptor.Attributes{})
		}
		t.Reset(senderReportEvery)
	}
}

// reports are the sender reports of every track that has sent a packet.
func (s *senderReports) reports(now time.Time) []rtcp.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rtcp.Packet
	for ssrc, st := range s.streams {
		packets := st.packets.Load()
		if packets == 0 {
			continue // RFC 3550 6.4: no SR before the first packet
		}
		ts, ok := s.rtpAt(st.video, st.clockRate, now)
		if !ok {
			continue
		}
		out = append(out, &rtcp.SenderReport{
			SSRC: ssrc, NTPTime: ntpTime(now), RTPTime: ts, PacketCount: packets, OctetCount: st.octets.Load(),
		})
	}
	return out
}

// ntpTime is t as a 64-bit NTP timestamp (seconds since 1900, 32.32).
func ntpTime(t time.Time) uint64 { return rtcpsr.NTPTimestamp(t) }

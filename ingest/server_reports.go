package ingest

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// senderReportPeriod is how often a re-served track sends an RTCP sender
// report. A reader lines sound up with picture only once it has one for
// each track, so they come every second rather than gortsplib's ten.
const senderReportPeriod = time.Second

// srTrack is what one re-served track's sender reports say. The server
// writes them itself (gortsplib's own are turned off): gortsplib v4.16.2
// puts nanoseconds where RFC 3550 wants 1/2³² s in the NTP fraction, which
// only gortsplib readers decode back; ffmpeg, GStreamer, VLC and hardware
// decoders read a wall clock off by up to 0.77 s, differently per track,
// and so play sound out of step with picture.
type srTrack struct {
	clock int

	mu      sync.Mutex
	have    bool
	ssrc    uint32
	rtp     uint32    // RTP time of the last packet whose time maps to a wall time
	ntp     time.Time // its wall time on the stream's timeline (senderClock)
	at      time.Time // when it was written
	packets uint32
	octets  uint32
}

// wrote records a packet written; mapping is false for a packet whose RTP
// time is not its presentation time's (a reordered B-frame), which then
// only counts.
func (s *srTrack) wrote(pkt *rtp.Packet, ntp time.Time, mapping bool, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ssrc = pkt.SSRC
	s.packets++
	s.octets += uint32(len(pkt.Payload))
	if mapping {
		s.have, s.rtp, s.ntp, s.at = true, pkt.Timestamp, ntp, now
	}
}

// report is the sender report for now: the last mapping carried forward by
// the time since, so that its NTP and RTP times name the same instant.
func (s *srTrack) report(now time.Time) (*rtcp.SenderReport, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.have || s.clock <= 0 {
		return nil, false
	}
	since := now.Sub(s.at)
	return &rtcp.SenderReport{
		SSRC:        s.ssrc,
		NTPTime:     ntpTimestamp(s.ntp.Add(since)),
		RTPTime:     s.rtp + uint32(since.Seconds()*float64(s.clock)),
		PacketCount: s.packets,
		OctetCount:  s.octets,
	}, true
}

// ntpTimestamp is t in RFC 3550's format (§4): seconds since 1900 in the
// high 32 bits, the fraction of a second in units of 2⁻³² s in the low.
func ntpTimestamp(t time.Time) uint64 {
	const unixToNTP = 2208988800
	sec := uint64(t.Unix()) + unixToNTP
	frac := (uint64(t.Nanosecond()) << 32) / uint64(time.Second)
	return sec<<32 | frac
}

// sendReports writes every track's sender report to the stream's readers.
func (o *outStream) sendReports(now time.Time) {
	for i, s := range o.reports {
		if s == nil || o.packetizers[i] == nil {
			continue
		}
		if sr, ok := s.report(now); ok {
			_ = o.ss.WritePacketRTCP(o.packetizers[i].Media(), sr)
		}
	}
}

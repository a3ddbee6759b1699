// Package rtcpsr writes and reads RTCP sender reports as RFC 3550 has them.
// gortsplib v4.16.2 puts nanoseconds where the NTP fraction's 2⁻³² s units
// belong, and reads them back the same way: its reports are read wrong by
// every other player (ffmpeg, GStreamer, VLC, hardware decoders) and a
// camera's right reports are read wrong by it. diemcau's RTSP servers turn
// gortsplib's reports off and send these; its readers decode with NTPTime.
package rtcpsr

import (
	"context"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// Period is how often a sending track reports. A reader lines sound up
// with picture only once it has a report of each track, so every second
// rather than gortsplib's ten.
const Period = time.Second

const unixToNTP = 2208988800 // seconds from 1900 to 1970

// NTPTimestamp is t in RFC 3550's format (§4): seconds since 1900 in the
// high 32 bits, the fraction of a second in units of 2⁻³² s in the low.
func NTPTimestamp(t time.Time) uint64 {
	sec := uint64(t.Unix()) + unixToNTP
	frac := (uint64(t.Nanosecond()) << 32) / uint64(time.Second)
	return sec<<32 | frac
}

// NTPTime reads an RFC 3550 NTP timestamp.
func NTPTime(v uint64) time.Time {
	sec, frac := int64(v>>32)-unixToNTP, v&0xFFFFFFFF
	return time.Unix(sec, int64((frac*uint64(time.Second))>>32))
}

// Track is what one sending track's reports say: the RTP↔wall-clock
// mapping of the last packet written and the counts so far. Safe for
// concurrent use.
type Track struct {
	clock int

	mu      sync.Mutex
	have    bool
	ssrc    uint32
	rtp     uint32    // RTP time of the last packet whose time maps to a wall time
	ntp     time.Time // its wall time
	at      time.Time // when it was written
	packets uint32
	octets  uint32
}

// NewTrack makes the reports of a track with RTP clock rate clock.
func NewTrack(clock int) *Track { return &Track{clock: clock} }

// Wrote records a packet written (after the writer set its SSRC); mapping
// is false for a packet whose RTP time is not its wall time's (a
// reordered B-frame), which then only counts.
func (s *Track) Wrote(pkt *rtp.Packet, ntp time.Time, mapping bool, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ssrc = pkt.SSRC
	s.packets++
	s.octets += uint32(len(pkt.Payload))
	if mapping {
		s.have, s.rtp, s.ntp, s.at = true, pkt.Timestamp, ntp, now
	}
}

// Report is the sender report for now: the last mapping carried forward
// by the time since, so that its NTP and RTP times name the same instant.
func (s *Track) Report(now time.Time) (*rtcp.SenderReport, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.have || s.clock <= 0 {
		return nil, false
	}
	since := now.Sub(s.at)
	return &rtcp.SenderReport{
		SSRC:        s.ssrc,
		NTPTime:     NTPTimestamp(s.ntp.Add(since)),
		RTPTime:     s.rtp + uint32(since.Seconds()*float64(s.clock)),
		PacketCount: s.packets,
		OctetCount:  s.octets,
	}, true
}

// Every calls send with the time once per Period until ctx ends: the loop
// of every sender of reports (the RTSP re-serve, camsim's cameras).
func Every(ctx context.Context, send func(now time.Time)) {
	tick := time.NewTicker(Period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			send(now)
		}
	}
}

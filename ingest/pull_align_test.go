package ingest

import (
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"diemcau/ingest/rtcpsr"
)

// TestTrackAligner: a camera whose sound was placed 40 ms late (its first
// packet came 40 ms after its capture relative to the picture's) is moved
// back onto the picture's wall clock by their reports, whichever way the
// camera writes its NTP fraction (a sender that writes whole seconds only
// is believed, and its 10 ms rounding shows).
func TestTrackAligner(t *testing.T) {
	nanos := func(tm time.Time) uint64 { return uint64(tm.Unix()+2208988800)<<32 | uint64(tm.Nanosecond()) }
	tests := []struct {
		name   string
		encode func(time.Time) uint64
		want   time.Duration
	}{
		{"RFC 3550 reports", rtcpsr.NTPTimestamp, -40 * time.Millisecond},
		{"gortsplib's nanosecond reports", nanos, -40 * time.Millisecond},
		{"reports in whole seconds", func(tm time.Time) uint64 { return uint64(tm.Unix()+2208988800) << 32 }, -50 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			video := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 96}}}
			audio := &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{&format.Opus{PayloadTyp: 111, ChannelCount: 2}}}
			var moved time.Duration
			a := newTrackAligner([]*description.Media{video, audio}, func(_ *description.Media, by time.Duration) { moved = by })
			epoch := time.Date(2026, 12, 4, 22, 0, 0, 123_456_789, time.UTC)
			// Both tracks' RTP clocks start at capture time epoch; the
			// audio's PTS (from arrival) is 40 ms later than its capture.
			const vBase, aBase = 1000, 5000
			report := func(m *description.Media, clock, base int64, at time.Duration) {
				rtpAt := uint32(base + int64(at)*clock/int64(time.Second))
				// Reports reach the server 3 ms after they were sent.
				a.senderReport(m, &rtcp.SenderReport{RTPTime: rtpAt, NTPTime: tc.encode(epoch.Add(at))}, epoch.Add(at+3*time.Millisecond))
			}
			var got int64
			for sec := range 3 {
				at := time.Duration(sec)*time.Second + 317*time.Millisecond // reports mid-second
				report(video, 90000, vBase, at)
				report(audio, 48000, aBase, at+10*time.Millisecond)
				// One packet of each at this second.
				pv := int64(at) * 90000 / int64(time.Second)
				a.align(video, &rtp.Packet{Header: rtp.Header{Timestamp: uint32(vBase + pv)}}, pv)
				pa := int64(at) * 48000 / int64(time.Second)
				got = a.align(audio, &rtp.Packet{Header: rtp.Header{Timestamp: uint32(aBase + pa)}}, pa+48000*40/1000)
				got -= pa
			}
			if (moved - tc.want).Abs() > time.Millisecond {
				t.Errorf("moved by %v, want %v", moved, tc.want)
			}
			if want := int64(48000*40/1000) + int64(tc.want)*48000/int64(time.Second); got != want {
				t.Errorf("audio PTS off its capture by %d ticks, want %d", got, want)
			}
		})
	}
}

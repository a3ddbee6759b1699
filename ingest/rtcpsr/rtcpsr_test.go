package rtcpsr

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestNTPTimestamp: the fraction is in 2⁻³² s (RFC 3550 §4), and NTPTime
// reads back the same instant to within a nanosecond.
func TestNTPTimestamp(t *testing.T) {
	for _, tc := range []struct {
		at       time.Time
		wantFrac uint64
	}{
		{time.Date(2026, 12, 4, 22, 0, 0, 0, time.UTC), 0},
		{time.Date(2026, 12, 4, 22, 0, 0, 500_000_000, time.UTC), 1 << 31},
		{time.Date(2026, 12, 4, 22, 0, 0, 250_000_000, time.UTC), 1 << 30},
		{time.Date(2026, 12, 4, 22, 0, 0, 999_999_999, time.UTC), 4294967291},
	} {
		v := NTPTimestamp(tc.at)
		if frac := v & 0xFFFFFFFF; frac != tc.wantFrac {
			t.Errorf("%v: fraction %d, want %d", tc.at, frac, tc.wantFrac)
		}
		if back := NTPTime(v); back.Sub(tc.at).Abs() > time.Nanosecond {
			t.Errorf("%v: reads back as %v", tc.at, back)
		}
	}
}

// TestSenderReportCarriesMapping: a report names the last mapped packet's
// instant carried forward, in both clocks; reordered frames only count.
func TestSenderReportCarriesMapping(t *testing.T) {
	s := NewTrack(90000)
	if _, ok := s.Report(time.Now()); ok {
		t.Fatal("a report before any packet")
	}
	t0 := time.Date(2026, 12, 4, 22, 0, 0, 0, time.UTC)
	wall := t0.Add(-40 * time.Millisecond) // the frame's time on the stream's timeline
	s.Wrote(&rtp.Packet{Header: rtp.Header{SSRC: 7, Timestamp: 1000}, Payload: make([]byte, 100)}, wall, true, t0)
	s.Wrote(&rtp.Packet{Header: rtp.Header{SSRC: 7, Timestamp: 99999}, Payload: make([]byte, 50)}, wall, false, t0.Add(time.Millisecond))
	sr, ok := s.Report(t0.Add(500 * time.Millisecond))
	if !ok {
		t.Fatal("no report")
	}
	if sr.SSRC != 7 || sr.PacketCount != 2 || sr.OctetCount != 150 {
		t.Errorf("report %+v", sr)
	}
	if want := uint32(1000 + 45000); sr.RTPTime != want {
		t.Errorf("RTP time %d, want %d", sr.RTPTime, want)
	}
	if got, want := NTPTime(sr.NTPTime), wall.Add(500*time.Millisecond); got.Sub(want).Abs() > time.Microsecond {
		t.Errorf("NTP time %v, want %v", got, want)
	}
}

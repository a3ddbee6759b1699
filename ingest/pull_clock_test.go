package ingest

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"diemcau/internal/testkit"
)

// A pulled camera's wall clock, from its RTCP sender reports, shows in the
// source's status; a camera that sends none shows none.
func TestPullSourceClockOffset(t *testing.T) {
	verifyNoLeaks(t)
	clip := loadClip(t, clipSpec{})
	for _, tc := range []struct {
		name string
		skew clockSkew
		want float64 // NaN: none
	}{
		{"40 s ahead", clockSkew{rate: 1, offset: 40 * time.Second}, 40},
		{"3 min behind", clockSkew{rate: 1, offset: -3 * time.Minute}, -180},
		{"no sender reports", clockSkew{rate: 1, noSenderReports: true}, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cam := startSkewedCamera(t, clip, tc.skew)
			src := runSource(t, PullConfig{ID: "cam", URL: cam.url(), Transport: TransportTCP})
			if math.IsNaN(tc.want) {
				// Two seconds of frames: an eager camera would have sent
				// several reports by then.
				testkit.Eventually(t, 20*time.Second, "50 frames", func() bool { return src.Status().Frames >= 50 })
				st := src.Status()
				raw, _ := json.Marshal(st)
				if st.ClockOffsetS != nil || st.ClockOffsetAt != nil || strings.Contains(string(raw), "clock_offset") {
					t.Fatalf("offset reported without sender reports: %s", raw)
				}
				return
			}
			testkit.Eventually(t, 20*time.Second, "a clock offset", func() bool { return src.Status().ClockOffsetS != nil })
			st := src.Status()
			if d := *st.ClockOffsetS - tc.want; d < -1 || d > 1 || st.ClockOffsetAt == nil {
				t.Fatalf("clock_offset_s %v at %v, want about %v", *st.ClockOffsetS, st.ClockOffsetAt, tc.want)
			}
		})
	}
}

package ingest

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestRound1(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in, out float64
	}{
		{"positive up", 1.26, 1.3},
		{"positive down", 1.24, 1.2},
		{"positive half", 2.25, 2.3},
		{"negative down", -1.26, -1.3},
		{"negative up", -1.24, -1.2},
		{"negative half, away from zero", -2.25, -2.3},
		{"negative whole", -2, -2},
		{"small negative is zero, not -0", -0.04, 0},
		{"zero", 0, 0},
		{"large", 123456.78, 123456.8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := round1(tc.in)
			if got != tc.out || math.Signbit(got) != math.Signbit(tc.out) {
				t.Fatalf("round1(%v) = %v, want %v", tc.in, got, tc.out)
			}
		})
	}
}

func TestTrackerClockOffset(t *testing.T) {
	tr := NewTracker("cam", "", "rtsp://u:secret@192.0.2.1/")
	raw, _ := json.Marshal(tr.Status())
	if tr.Status().ClockOffsetS != nil || strings.Contains(string(raw), "clock_offset") {
		t.Fatalf("offset before any sender report: %s", raw)
	}
	now := time.Now()
	tr.SenderReport(toNTP(now.Add(-90*time.Second+1234567*time.Nanosecond)), now)
	tr.SetState(StateOffline, "camera gone") // the camera's clock outlives the connection
	st := tr.Status()
	if st.ClockOffsetS == nil || *st.ClockOffsetS != -89.999 || st.ClockOffsetAt == nil || !st.ClockOffsetAt.Equal(now) {
		t.Fatalf("offset %v at %v, want -89.999 at %v", st.ClockOffsetS, st.ClockOffsetAt, now)
	}
	raw, _ = json.Marshal(st)
	if !strings.Contains(string(raw), `"clock_offset_s":-89.999`) {
		t.Fatalf("JSON %s lacks clock_offset_s", raw)
	}
}

package mixer

import (
	"strings"
	"testing"
	"time"
)

func TestSignal(t *testing.T) {
	start := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		now     time.Time
		age     time.Duration
		changed bool
		lost    bool
		since   time.Time
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"live pictures stay live", []step{
			{at(100), 30 * time.Millisecond, false, false, time.Time{}},
			{at(5000), 0, false, false, time.Time{}},
		}},
		{"no picture after a second from the start is lost since the start", []step{
			{at(900), -1, false, false, time.Time{}},
			{at(1000), -1, true, true, start},
		}},
		{"a second without pictures is lost since the last one", []step{
			{at(2000), 500 * time.Millisecond, false, false, time.Time{}},
			{at(2600), 1100 * time.Millisecond, true, true, at(1500)},
			{at(4000), 2500 * time.Millisecond, false, true, at(1500)},
		}},
		{"a new picture brings it back", []step{
			{at(3000), 2 * time.Second, true, true, at(1000)},
			{at(3100), 10 * time.Millisecond, true, false, at(1000)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s signal
			for i, st := range tt.steps {
				if got := s.update(st.now, st.age, start); got != st.changed {
					t.Errorf("step %d: changed %v, want %v", i, got, st.changed)
				}
				if s.lost != st.lost || (st.lost && !s.since.Equal(st.since)) {
					t.Errorf("step %d: lost %v since %v, want %v since %v", i, s.lost, s.since, st.lost, st.since)
				}
			}
		})
	}
}

func TestSlateText(t *testing.T) {
	got := slateText("UBND xã Mỹ Hiệp", time.Date(2025, 3, 1, 8, 5, 9, 0, time.Local))
	for _, want := range []string{"MẤT TÍN HIỆU", "UBND xã Mỹ Hiệp", "08:05:09 01/03/2025"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

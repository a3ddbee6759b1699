package mixer

import (
	"strings"
	"testing"
	"time"

	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// TestSoundUpdate walks a point's sound through the states of the silence
// alert: only a live, unmuted point that stays quiet for the whole
// threshold is silent, and anything heard, a mute or a lost picture ends it.
func TestSoundUpdate(t *testing.T) {
	const after, below = 10 * time.Second, -60.0
	t0 := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	speech := func(at time.Time) gst.Level { return gst.Level{PeakDBFS: -12, RMSDBFS: -24, At: at} }
	hiss := func(at time.Time) gst.Level { return gst.Level{PeakDBFS: -58, RMSDBFS: -72, At: at} }
	type step struct {
		at         time.Duration
		lvl        func(time.Time) gst.Level // nil: no reading yet
		staleBy    time.Duration             // the reading is this old
		judged     bool
		wantSilent bool
		wantChange bool
		wantMeas   bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"speech is never silent", []step{
			{at: 0, lvl: speech, judged: true, wantMeas: true},
			{at: 20 * time.Second, lvl: speech, judged: true, wantMeas: true},
		}},
		{"quiet for the threshold is silent, sound ends it", []step{
			{at: 0, lvl: hiss, judged: true, wantMeas: true},
			{at: 9 * time.Second, lvl: hiss, judged: true, wantMeas: true},
			{at: 10 * time.Second, lvl: hiss, judged: true, wantSilent: true, wantChange: true, wantMeas: true},
			{at: 15 * time.Second, lvl: hiss, judged: true, wantSilent: true, wantMeas: true},
			{at: 16 * time.Second, lvl: speech, judged: true, wantChange: true, wantMeas: true},
		}},
		{"no audio at all is silent", []step{
			{at: 0, judged: true},
			{at: 10 * time.Second, judged: true, wantSilent: true, wantChange: true},
		}},
		{"audio that stopped is silent", []step{
			{at: 0, lvl: speech, judged: true, wantMeas: true},
			{at: 2 * time.Second, lvl: speech, staleBy: 2 * time.Second, judged: true},
			{at: 12 * time.Second, lvl: speech, staleBy: 12 * time.Second, judged: true, wantSilent: true, wantChange: true},
		}},
		{"a muted point is not silent, and unmuting starts the count again", []step{
			{at: 0, lvl: hiss, judged: false, wantMeas: true},
			{at: 30 * time.Second, lvl: hiss, judged: false, wantMeas: true},
			{at: 31 * time.Second, lvl: hiss, judged: true, wantMeas: true},
			{at: 40 * time.Second, lvl: hiss, judged: true, wantMeas: true},
			{at: 41 * time.Second, lvl: hiss, judged: true, wantSilent: true, wantChange: true, wantMeas: true},
			{at: 42 * time.Second, lvl: hiss, judged: false, wantChange: true, wantMeas: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sound
			for i, st := range tt.steps {
				now := t0.Add(st.at)
				var lvl gst.Level
				if st.lvl != nil {
					lvl = st.lvl(now.Add(-st.staleBy))
				}
				changed := s.update(now, lvl, st.lvl != nil, st.judged, after, below)
				a := s.audio
				if changed != st.wantChange || a.Silent != st.wantSilent || a.Measured != st.wantMeas {
					t.Fatalf("step %d (%v): changed %v silent %v measured %v, want %v %v %v",
						i, st.at, changed, a.Silent, a.Measured, st.wantChange, st.wantSilent, st.wantMeas)
				}
				if !a.Measured && (a.RMSDBFS != gst.LevelFloorDBFS || a.PeakDBFS != gst.LevelFloorDBFS) {
					t.Fatalf("step %d: no sound reads %v/%v dBFS, want the floor", i, a.PeakDBFS, a.RMSDBFS)
				}
			}
		})
	}
}

func TestSilenceConfig(t *testing.T) {
	base := func() Config {
		return Config{Session: "s", Points: []Point{{ID: "a", Stream: pipeline.NewStream("a")}}}
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"short threshold", func(c *Config) { c.SilentAfter = time.Second; c.SilentBelow = -50 }, ""},
		{"negative time", func(c *Config) { c.SilentAfter = -time.Second }, "silent_after"},
		{"level above full scale", func(c *Config) { c.SilentBelow = 3 }, "silent_below"},
		{"level under the floor", func(c *Config) { c.SilentBelow = -140 }, "silent_below"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				d := c.withDefaults()
				if d.SilentAfter <= 0 || d.SilentBelow >= 0 {
					t.Errorf("defaults: after %v below %g", d.SilentAfter, d.SilentBelow)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}

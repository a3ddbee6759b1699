package ingest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"diemcau/pipeline"
)

// toNTP is t in RTCP's 64-bit NTP format.
func toNTP(t time.Time) uint64 {
	d := t.Sub(ntpEpoch)
	secs := uint64(d / time.Second)
	frac := uint64(d%time.Second) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// synthFrames feeds m a feed of fps frames whose media clock runs at rate
// times real time, each delayed by up to jitter (seeded, so the same every
// run), after a burst of burst seconds of old frames delivered at once (a
// GOP cache replayed to a new reader).
func synthFrames(m *clockMeter, kind pipeline.Codec, fps, rate float64, window, jitter, burst time.Duration, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	track := &pipeline.Track{Codec: kind}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := time.Duration(float64(time.Second) / fps)
	for at := -burst; at <= window; at += step {
		media := time.Duration(float64(at) * rate)
		arrival := t0.Add(max(at, 0))
		if at >= 0 {
			arrival = arrival.Add(time.Duration(rng.Float64() * float64(jitter)))
		}
		m.frame(&pipeline.Frame{Track: track, PTS: media, DTS: media}, arrival)
	}
}

func TestRateFit(t *testing.T) {
	for _, tc := range []struct {
		name          string
		rate          float64
		window        time.Duration
		jitter, burst time.Duration
		want          float64 // percent; NaN: not measured
	}{
		{"true clock", 1, 5 * time.Second, 0, 0, 0},
		{"true clock, jittery network, GOP burst", 1, 5 * time.Second, 40 * time.Millisecond, 2 * time.Second, 0},
		{"10 % fast", 1.10, 5 * time.Second, 30 * time.Millisecond, time.Second, 10},
		{"3 % slow", 0.97, 5 * time.Second, 30 * time.Millisecond, time.Second, -3},
		{"too short to judge", 1.10, 1500 * time.Millisecond, 0, 0, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m clockMeter
			synthFrames(&m, pipeline.H264, 25, tc.rate, tc.window, tc.jitter, tc.burst, 1)
			d := m.video.drift()
			if math.IsNaN(tc.want) {
				if d != nil {
					t.Fatalf("drift %+v, want none", d)
				}
				return
			}
			if d == nil {
				t.Fatal("no drift measured")
			}
			if math.Abs(d.DriftPct-tc.want) > 0.3 || d.ErrPct > 0.5 || d.WindowS < tc.window.Seconds()-0.5 {
				t.Errorf("drift %+v, want %.1f %% within 0.3", d, tc.want)
			}
		})
	}
}

func checkNamed(checks []ProbeCheck, name string) ProbeCheck {
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	return ProbeCheck{}
}

func TestClockChecks(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name       string
		rate       float64
		audioRate  float64
		srs        []time.Time // the camera's NTP at each report, received at now
		relayed    bool
		wantRate   CheckResult
		wantOffset CheckResult
		wantText   []string // in the messages of the checks that did not pass
		wantOffS   float64  // NaN: none in the report
	}{
		{name: "all good", rate: 1, audioRate: 1, srs: []time.Time{now.Add(300 * time.Millisecond)},
			wantRate: CheckPass, wantOffset: CheckPass, wantOffS: 0.3},
		{name: "video 10 % fast", rate: 1.1, audioRate: 1, wantRate: CheckFail, wantOffset: CheckPass,
			wantText: []string{"clock drift", "video clock runs", "% faster", "fixed frame rate"}, wantOffS: math.NaN()},
		{name: "audio 3 % slow", rate: 1, audioRate: 0.97, wantRate: CheckWarn, wantOffset: CheckPass,
			wantText: []string{"audio clock runs", "% slower", "stutters"}, wantOffS: math.NaN()},
		{name: "camera 30 s ahead", rate: 1, audioRate: 1, srs: []time.Time{now.Add(30 * time.Second), now.Add(29 * time.Second)},
			wantRate: CheckPass, wantOffset: CheckWarn, wantText: []string{"camera clock is 30.0 s ahead of the server", "NTP server"}, wantOffS: 30},
		{name: "camera 5 min behind", rate: 1, audioRate: 1, srs: []time.Time{now.Add(-5 * time.Minute)},
			wantRate: CheckPass, wantOffset: CheckWarn, wantText: []string{"5.0 min behind the server"}, wantOffS: -300},
		{name: "camera clock never set", rate: 1, audioRate: 1, srs: []time.Time{time.Date(1970, 1, 1, 0, 3, 0, 0, time.UTC)},
			wantRate: CheckPass, wantOffset: CheckWarn, wantText: []string{"camera clock not set", "1970-01-01"}, wantOffS: math.NaN()},
		{name: "relayed: the reports are the server's own", rate: 1, audioRate: 1, srs: []time.Time{now.Add(30 * time.Second)}, relayed: true,
			wantRate: CheckPass, wantOffset: CheckPass, wantOffS: math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m clockMeter
			synthFrames(&m, pipeline.H264, 25, tc.rate, 4*time.Second, 10*time.Millisecond, 0, 1)
			synthFrames(&m, pipeline.PCMU, 50, tc.audioRate, 4*time.Second, 10*time.Millisecond, 0, 2)
			for _, ntp := range tc.srs {
				m.senderReport(&rtcp.SenderReport{NTPTime: toNTP(ntp)}, now)
			}
			pc := m.result(tc.relayed)
			var checks []ProbeCheck
			m.checks(pc, tc.relayed, func(name string, r CheckResult, format string, args ...any) {
				checks = append(checks, ProbeCheck{Name: name, Result: r, Message: fmt.Sprintf(format, args...)})
			})
			rate, offset := checkNamed(checks, "clock-rate"), checkNamed(checks, "clock-offset")
			if rate.Result != tc.wantRate || offset.Result != tc.wantOffset {
				t.Fatalf("clock-rate %s, clock-offset %s; want %s, %s", rate.Result, offset.Result, tc.wantRate, tc.wantOffset)
			}
			text := rate.Message + " | " + offset.Message
			for _, w := range tc.wantText {
				if !strings.Contains(text, w) {
					t.Errorf("messages lack %q: %s", w, text)
				}
			}
			switch {
			case math.IsNaN(tc.wantOffS) && pc.OffsetS != nil:
				t.Errorf("offset %v reported, want none", *pc.OffsetS)
			case !math.IsNaN(tc.wantOffS) && (pc.OffsetS == nil || math.Abs(*pc.OffsetS-tc.wantOffS) > 0.01):
				t.Errorf("offset %v, want %v", pc.OffsetS, tc.wantOffS)
			}
			if pc.Video == nil || pc.Audio == nil ||
				math.Abs(pc.Video.DriftPct-(tc.rate-1)*100) > 0.3 || math.Abs(pc.Audio.DriftPct-(tc.audioRate-1)*100) > 0.3 {
				t.Errorf("drift video %+v audio %+v, want %.1f %% and %.1f %%", pc.Video, pc.Audio, (tc.rate-1)*100, (tc.audioRate-1)*100)
			}
			if pc.SenderReports != len(tc.srs) {
				t.Errorf("sender_reports %d, want %d", pc.SenderReports, len(tc.srs))
			}
		})
	}
}

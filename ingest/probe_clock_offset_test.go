package ingest

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestOffsetEstimator(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	type report struct {
		at     time.Duration // arrival, after t0
		offset time.Duration // camera clock minus ours when it left
		delay  time.Duration // transit
	}
	for _, tc := range []struct {
		name    string
		reports []report
		want    time.Duration // NaN-like: -1 means none
	}{
		{"none", nil, -1},
		{"least delayed wins", []report{
			{0, 40 * time.Second, 80 * time.Millisecond},
			{5 * time.Second, 40 * time.Second, 5 * time.Millisecond},
			{10 * time.Second, 40 * time.Second, 30 * time.Millisecond},
		}, 40*time.Second - 5*time.Millisecond},
		{"behind", []report{
			{0, -10 * time.Minute, 20 * time.Millisecond},
			{time.Second, -10 * time.Minute, 2 * time.Millisecond},
		}, -10*time.Minute - 2*time.Millisecond},
		{"a corrected clock is followed once its old reports leave the window", []report{
			{0, 40 * time.Second, time.Millisecond},
			{5 * time.Second, 40 * time.Second, time.Millisecond},
			{40 * time.Second, 0, 3 * time.Millisecond},
			{45 * time.Second, 0, 4 * time.Millisecond},
		}, -3 * time.Millisecond},
		{"reports older than the window do not count", []report{
			{0, 0, 0},
			{31 * time.Second, -2 * time.Second, 10 * time.Millisecond},
		}, -2*time.Second - 10*time.Millisecond},
		{"many reports a second stay within the fixed slots", func() []report {
			var rs []report
			for i := range 600 {
				d := time.Duration(i%7+1) * time.Millisecond
				rs = append(rs, report{time.Duration(i) * 100 * time.Millisecond, 3 * time.Second, d})
			}
			return rs
		}(), 3*time.Second - time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e offsetEstimator
			var last time.Time
			for _, r := range tc.reports {
				arrival := t0.Add(r.at)
				sent := arrival.Add(-r.delay)
				e.add(toNTP(sent.Add(r.offset)), arrival)
				last = arrival
			}
			off, at, ok := e.estimate()
			if tc.want == -1 {
				if ok {
					t.Fatalf("estimate %v, want none", off)
				}
				return
			}
			// toNTP and back lose under a nanosecond per conversion.
			if !ok || (off-tc.want).Abs() > time.Microsecond || !at.Equal(last) {
				t.Fatalf("estimate %v at %v (ok %v), want %v at %v", off, at, ok, tc.want, last)
			}
			if e.reports != uint64(len(tc.reports)) {
				t.Errorf("reports %d, want %d", e.reports, len(tc.reports))
			}
		})
	}
}

func TestClockOffsetCheck(t *testing.T) {
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		offsetS float64
		want    CheckResult
		text    string
	}{
		{"in step", 0.3, CheckPass, "camera clock within 0.3 s of the server's"},
		{"just behind, within 2 s", -1.9, CheckPass, "within 1.9 s"},
		{"40 s ahead", 40, CheckWarn, "camera clock is 40.0 s ahead of the server; set its NTP server"},
		{"10 min behind", -600, CheckWarn, "camera clock is 10.0 min behind the server; set its NTP server"},
		{"3 h ahead", 3 * 3600, CheckWarn, "3.0 h ahead of"},
		{"never set: counts from 1970", -at.Sub(time.Date(1970, 1, 1, 0, 3, 0, 0, time.UTC)).Seconds(), CheckWarn,
			"camera clock not set: its RTCP reports read 1970-01-01 00:03:00"},
		{"absurd", math.Inf(-1), CheckWarn, "camera clock not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chk := ClockOffsetCheck(tc.offsetS, at)
			if chk.Name != "clock-offset" || chk.Result != tc.want || !strings.Contains(chk.Message, tc.text) {
				t.Fatalf("%+v, want %s with %q", chk, tc.want, tc.text)
			}
		})
	}
}

// The packet path: a sender report costs no allocation.
func TestSenderReportAllocationFree(t *testing.T) {
	tr := NewTracker("cam", "", "rtsp://192.0.2.1/")
	now := time.Now()
	ntp := toNTP(now.Add(40 * time.Second))
	if n := testing.AllocsPerRun(1000, func() {
		now = now.Add(100 * time.Millisecond)
		tr.SenderReport(ntp, now)
	}); n != 0 {
		t.Fatalf("%v allocations per sender report, want 0", n)
	}
}

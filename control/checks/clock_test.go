package checks

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"diemcau/control/store"
	"diemcau/ingest"
)

// The probe of a check reads the re-serve and cannot measure the camera's
// clock; the source's own status, which can, is graded instead.
func TestCheckGradesCameraClockFromStatus(t *testing.T) {
	ptr := func(v float64) *float64 { return &v }
	measured := time.Now().UTC()
	const notMeasured = "not measured: read through the server's re-serve"
	for _, tc := range []struct {
		name     string
		offsetS  *float64
		probeErr error
		verdict  string
		reason   string // "" none
		check    string // the stored probe report's clock-offset message
		probeVer ingest.CheckResult
	}{
		{name: "40 s ahead", offsetS: ptr(40), verdict: store.VerdictWarn,
			reason: "camera clock is 40.0 s ahead of the server; set its NTP server", check: "40.0 s ahead of", probeVer: ingest.CheckWarn},
		{name: "5 min behind", offsetS: ptr(-300), verdict: store.VerdictWarn,
			reason: "camera clock is 5.0 min behind the server; set its NTP server", check: "5.0 min behind", probeVer: ingest.CheckWarn},
		{name: "in step", offsetS: ptr(0.4), verdict: store.VerdictPass,
			check: "camera clock within 0.4 s of the server's", probeVer: ingest.CheckPass},
		{name: "no sender reports: the probe's word stands", verdict: store.VerdictPass,
			check: notMeasured, probeVer: ingest.CheckPass},
		{name: "probe failed: the clock still counts", offsetS: ptr(40), probeErr: errors.New("no frame"),
			verdict: store.VerdictFail, reason: "camera clock is 40.0 s ahead of the server", check: "40.0 s ahead of", probeVer: ingest.CheckFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := store.Open(ctx, filepath.Join(t.TempDir(), "d.db"), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.PutSource(ctx, store.Source{ID: "cam", URL: "rtsp://192.0.2.1/cam", Transport: "auto", Origin: store.OriginConfig}); err != nil {
				t.Fatal(err)
			}
			status := ingest.Status{ID: "cam", State: ingest.StateOnline, ClockOffsetS: tc.offsetS, ClockOffsetAt: &measured}
			c, err := New(Config{ProbeFor: time.Millisecond, ArchiveRoot: t.TempDir()}, slog.New(slog.DiscardHandler), Deps{
				Store:  st,
				Source: func(string) (ingest.Status, bool) { return status, true },
				Probe: func(context.Context, string, time.Duration) (ingest.ProbeReport, error) {
					// What a probe of the re-serve reports of the clock.
					rep := ingest.ProbeReport{Connected: true, Verdict: ingest.CheckPass, Clock: &ingest.ProbeClock{SenderReports: 3},
						Checks: []ingest.ProbeCheck{
							{Name: "video", Result: ingest.CheckPass, Message: "320x180"},
							{Name: "clock-offset", Result: ingest.CheckPass, Message: notMeasured + ", whose RTCP reports carry the server's clock"},
						}}
					if tc.probeErr != nil {
						rep = ingest.ProbeReport{Verdict: ingest.CheckFail, Checks: []ingest.ProbeCheck{}}
					}
					return rep, tc.probeErr
				},
				Encoder: func() (string, bool) { return "x264enc", false },
			})
			if err != nil {
				t.Fatal(err)
			}
			addSession(t, st, "s", []string{"cam"}, nil)
			rep, err := c.Check(ctx, "s", store.CheckManual)
			if err != nil {
				t.Fatal(err)
			}
			p := rep.Points[0]
			reasons := strings.Join(p.Reasons, " | ")
			if p.Verdict != tc.verdict || (tc.reason != "" && !strings.Contains(reasons, tc.reason)) ||
				(tc.reason == "" && strings.Contains(reasons, "clock")) {
				t.Fatalf("point %s %q, want %s with %q", p.Verdict, reasons, tc.verdict, tc.reason)
			}
			var probe ingest.ProbeReport
			if err := json.Unmarshal(p.Probe, &probe); err != nil {
				t.Fatal(err)
			}
			var clock ingest.ProbeCheck
			n := 0
			for _, chk := range probe.Checks {
				if chk.Name == "clock-offset" {
					clock, n = chk, n+1
				}
			}
			if n != 1 || !strings.Contains(clock.Message, tc.check) || probe.Verdict != tc.probeVer {
				t.Fatalf("stored probe: %d clock-offset checks, %q, verdict %s; want one with %q, verdict %s",
					n, clock.Message, probe.Verdict, tc.check, tc.probeVer)
			}
			if tc.offsetS != nil && tc.probeErr == nil && (probe.Clock == nil || probe.Clock.OffsetS == nil || *probe.Clock.OffsetS != *tc.offsetS) {
				t.Fatalf("stored probe clock %+v, want offset_s %v", probe.Clock, *tc.offsetS)
			}
		})
	}
}

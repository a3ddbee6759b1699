package checks

import (
	"context"
	"strings"
	"testing"
	"time"

	"diemcau/control/store"
)

// TestCheckHearsSilentPoints: while the session runs, a point the composite
// hears nothing from is a warning that says for how long; a point it hears,
// and any point of a session that is not running, get no sound verdict.
func TestCheckHearsSilentPoints(t *testing.T) {
	sounds := map[string]map[string]Sound{
		"running": {
			"good":   {Measured: true, RMSDBFS: -24},
			"weak":   {Silent: true, QuietFor: 12400 * time.Millisecond},
			"drifty": {Measured: true, RMSDBFS: -71, Silent: true, QuietFor: 31 * time.Second},
		},
	}
	tests := []struct {
		session string
		want    map[string]string // point → reason; "" none about sound
	}{
		{"running", map[string]string{
			"good":   "",
			"weak":   "no sound for 12 s while its picture is live (its audio does not reach the composite)",
			"drifty": "no sound for 31 s while its picture is live (its level is -71 dBFS RMS)",
		}},
		{"idle", map[string]string{"good": "", "weak": "", "drifty": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.session, func(t *testing.T) {
			c, st := newTestChecker(t, func(context.Context, string) error { return nil })
			c.deps.Sound = func(sess, point string) (Sound, bool) {
				s, ok := sounds[sess][point]
				return s, ok
			}
			addSession(t, st, tt.session, []string{"good", "weak", "drifty"}, nil)
			rep, err := c.Check(context.Background(), tt.session, store.CheckManual)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range rep.Points {
				reasons := strings.Join(p.Reasons, " | ")
				want := tt.want[p.PointID]
				if want == "" {
					if strings.Contains(reasons, "no sound") {
						t.Errorf("%s: unexpected sound warning: %s", p.PointID, reasons)
					}
					continue
				}
				if p.Verdict == store.VerdictPass || !strings.Contains(reasons, want) {
					t.Errorf("%s: %s %q, want a warning %q", p.PointID, p.Verdict, reasons, want)
				}
			}
			if p := rep.Points[0]; p.PointID == "good" && tt.session == "running" && p.Verdict != store.VerdictPass {
				t.Errorf("a point heard: %s %v", p.Verdict, p.Reasons)
			}
		})
	}
}

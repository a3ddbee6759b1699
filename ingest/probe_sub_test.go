package ingest

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestProbePair reads a camera's main and sub-stream at once from two real
// RTSP servers; a sub-stream that cannot be reached fails the verdict with
// its reason in the sub report, without a password.
func TestProbePair(t *testing.T) {
	verifyNoLeaks(t)
	clip := loadClip(t, clipSpec{})
	main := startTestCamera(t, clip, cameraOpts{tcpOnly: true})
	sub := startTestCamera(t, clip, cameraOpts{tcpOnly: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := ProbeOptions{Transport: TransportTCP}
	tests := []struct {
		name    string
		sub     string
		verdict CheckResult
	}{
		{"both", sub.URL("", ""), CheckWarn}, // the clip has no sound: a warning of the main stream
		{"sub unreachable", "rtsp://cam:s3cret@127.0.0.1:1/sub", CheckFail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := ProbePair(ctx, main.URL("", ""), tc.sub, 2*time.Second, opts, opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Sub == nil || rep.Video == nil {
				t.Fatalf("report %+v: want the main video and a sub report", rep)
			}
			if rep.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s (main %+v, sub %+v)", rep.Verdict, tc.verdict, rep.Checks, rep.Sub.Checks)
			}
			if tc.verdict == CheckPass && (rep.Sub.Video == nil || rep.Sub.Video.Frames == 0) {
				t.Errorf("sub report %+v: want its video measured", rep.Sub)
			}
			if tc.verdict == CheckFail && (rep.Sub.Error == "" || strings.Contains(rep.Sub.Error+rep.Sub.URL, "s3cret")) {
				t.Errorf("sub report error %q url %q: want the reason, without the password", rep.Sub.Error, rep.Sub.URL)
			}
		})
	}
}

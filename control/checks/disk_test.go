package checks

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"diemcau/control/store"
)

func TestEstimateDisk(t *testing.T) {
	two := []store.Point{{ID: "a", Source: "cam-a"}, {ID: "b", Source: "cam-b"}}
	for _, tc := range []struct {
		name           string
		duration       time.Duration
		bitrate        int
		points         []store.Point
		kbps           []float64
		wantDuration   time.Duration
		wantAssumed    bool
		wantKbps       float64
		wantUnmeasured int
		wantBytes      int64
	}{
		{
			// (2500 + 128 + 2 × 4000) kbps × 125 B/s per kbps × 14400 s × 1.03
			name: "no duration, nothing measured", bitrate: 2500, points: two, kbps: []float64{0, 0},
			wantDuration: 4 * time.Hour, wantAssumed: true, wantKbps: 10628, wantUnmeasured: 2, wantBytes: 19_704_312_000,
		},
		{
			// (2500 + 128 + 1.25 × (1000 + 2000)) kbps × 125 × 9000 s × 1.03
			name: "2h30m, both measured", duration: 150 * time.Minute, bitrate: 2500, points: two, kbps: []float64{1000, 2000},
			wantDuration: 150 * time.Minute, wantKbps: 6378, wantBytes: 7_390_507_500,
		},
		{
			// A source shared by two points is recorded once:
			// (1000 + 128 + 1.25 × 800 + 4000) kbps × 125 × 1800 s × 1.03
			name: "shared source, one offline", duration: 30 * time.Minute, bitrate: 1000,
			points: []store.Point{{ID: "a", Source: "cam-a"}, {ID: "a2", Source: "cam-a"}, {ID: "b", Source: "cam-b"}},
			kbps:   []float64{800, 800, 0}, wantDuration: 30 * time.Minute, wantKbps: 6128, wantUnmeasured: 1, wantBytes: 1_420_164_000,
		},
		{
			name: "no points", duration: time.Hour, bitrate: 500, wantDuration: time.Hour, wantKbps: 628, wantBytes: 291_078_000,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess := store.Session{Duration: tc.duration, Output: store.Output{Bitrate: tc.bitrate}, Points: tc.points}
			est := estimateDisk(sess, tc.kbps, 4*time.Hour)
			if est.Duration != tc.wantDuration || est.Assumed != tc.wantAssumed || est.Kbps != tc.wantKbps ||
				est.Unmeasured != tc.wantUnmeasured || est.Bytes != tc.wantBytes {
				t.Errorf("estimate %+v, want duration %v assumed %v kbps %v unmeasured %d bytes %d",
					est, tc.wantDuration, tc.wantAssumed, tc.wantKbps, tc.wantUnmeasured, tc.wantBytes)
			}
		})
	}
}

func TestJudgeDisk(t *testing.T) {
	const gib = 1 << 30
	est := diskEstimate{Duration: 150 * time.Minute, Kbps: 6378, Bytes: 10 * gib}
	assumed := diskEstimate{Duration: 4 * time.Hour, Assumed: true, Kbps: 10628, Bytes: 10 * gib, Unmeasured: 2}
	for _, tc := range []struct {
		name     string
		free     int64
		minFree  int64
		est      diskEstimate
		want     string
		wantText []string
	}{
		{"plenty", 100 * gib, 2 * gib, est, store.VerdictPass, nil},
		{"exactly twice above min_free", 22 * gib, 2 * gib, est, store.VerdictPass, nil},
		{"under twice", 21 * gib, 2 * gib, est, store.VerdictWarn, []string{"less than twice the 10.0 GiB a 2h30m session needs"}},
		{"enough only counting min_free", 11 * gib, 2 * gib, est, store.VerdictFail,
			[]string{"11.0 GiB free at /arch, 9.0 GiB of it above archive.min_free", "a 2h30m session needs about 10.0 GiB", "6378 kbps"}},
		{"short with no min_free", 9 * gib, 0, est, store.VerdictFail, []string{"9.0 GiB free at /arch;"}},
		{"min_free over free", gib, 2 * gib, est, store.VerdictFail, []string{"0 B of it above archive.min_free"}},
		{"assumed duration says so", 15 * gib, 0, assumed, store.VerdictWarn,
			[]string{"a session of 4h (assumed: the session has no duration; set one)", "2 point(s) not measured counted at 4000 kbps"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verdict, reason := judgeDisk(tc.free, tc.minFree, tc.est, "/arch")
			if verdict != tc.want {
				t.Fatalf("verdict %s (%s), want %s", verdict, reason, tc.want)
			}
			for _, w := range tc.wantText {
				if !strings.Contains(reason, w) {
					t.Errorf("reason %q lacks %q", reason, w)
				}
			}
		})
	}
}

// The check uses the session's duration and the probed bitrates, and
// counts archive.min_free out.
func TestCheckDiskUsesSessionDuration(t *testing.T) {
	c, st := newTestChecker(t, func(context.Context, string) error { return nil })
	c.cfg.MinFree = 1 << 62 // more than any disk: the disk check must fail, and say why
	addSession(t, st, "s", []string{"good", "weak"}, nil)
	if _, err := st.UpdateSession(context.Background(), "s", func(s *store.Session) error {
		s.Duration, s.Record = 90*time.Minute, true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rep, err := c.Check(context.Background(), "s", store.CheckManual)
	if err != nil {
		t.Fatal(err)
	}
	var srv ServerCheck
	if err := json.Unmarshal(rep.Server, &srv); err != nil {
		t.Fatal(err)
	}
	// Output 500 kbps + 128 audio + good and weak probed at 1200 kbps, ×1.25.
	if srv.PlannedDuration != "1h30m" || srv.DurationAssumed || srv.RecordKbps != 628+2*1500 ||
		srv.DiskNeededBytes != int64((628+3000)*125*5400*1.03) || srv.DiskMinFreeBytes != 1<<62 {
		t.Fatalf("server check %+v", srv)
	}
	if srv.Verdict != store.VerdictFail || !strings.Contains(strings.Join(srv.Reasons, "|"), "a 1h30m session needs about") {
		t.Fatalf("verdict %s reasons %v", srv.Verdict, srv.Reasons)
	}
}

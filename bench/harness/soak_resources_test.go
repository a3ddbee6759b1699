package harness

import (
	"strings"
	"testing"
	"time"
)

// processSamples makes one process's samples every 5 s from age 0 to ageEnd, with
// goroutines, RSS and fds given by f(age).
func processSamples(gen int, from, ageEnd float64, f func(age float64) (float64, float64, float64)) []ResourceSample {
	var out []ResourceSample
	for age := 0.0; age <= ageEnd; age += 5 {
		g, r, d := f(age)
		out = append(out, ResourceSample{T: from + age, Gen: gen, AgeS: age, Goroutines: g, RSS: r, FDs: d})
	}
	return out
}

func TestStretchesJudgeGrowth(t *testing.T) {
	flat := func(float64) (float64, float64, float64) { return 200, 150e6, 56 }
	// A warm-up that climbs fast and then holds: not a leak.
	warming := func(age float64) (float64, float64, float64) {
		if age < 60 {
			return 100 + age*2, 100e6 + age*1e6, 40
		}
		return 220, 160e6, 56
	}
	// One goroutine more every 5 s: a leak.
	leaking := func(age float64) (float64, float64, float64) { return 200 + age/5, 150e6, 56 }
	cases := []struct {
		name    string
		samples []ResourceSample
		judged  []bool
		want    []string // substrings of the failures, in order
	}{
		{
			name:    "flat final stretch",
			samples: processSamples(1, 0, 600, flat),
			judged:  []bool{true},
		},
		{
			name:    "warm-up is skipped",
			samples: processSamples(1, 0, 600, warming),
			judged:  []bool{true},
		},
		{
			name:    "a leak in the final stretch",
			samples: processSamples(1, 0, 600, leaking),
			judged:  []bool{true},
			want:    []string{"process 1", "goroutines grew"},
		},
		{
			name:    "a short leaking stretch between kills is not judged",
			samples: append(processSamples(1, 0, 120, leaking), processSamples(2, 130, 600, flat)...),
			judged:  []bool{false, true},
		},
		{
			name:    "a long leaking stretch between kills is",
			samples: append(processSamples(1, 0, 400, leaking), processSamples(2, 410, 600, flat)...),
			judged:  []bool{true, true},
			want:    []string{"process 1", "goroutines grew"},
		},
		{
			name: "viewers come and go: not growth",
			samples: func() []ResourceSample {
				ss := processSamples(1, 0, 600, flat)
				for i := range ss {
					// More viewers, by chance, towards the end; each
					// viewer's peer connection holds 23 goroutines.
					ss[i].Viewers = 4 + int64(i*2/len(ss))
					ss[i].Goroutines = 100 + 23*float64(ss[i].Viewers)
				}
				return ss
			}(),
			judged: []bool{true},
		},
		{
			name:    "final stretch too short to say",
			samples: append(processSamples(1, 0, 600, flat), processSamples(2, 610, 70, flat)...),
			judged:  []bool{true, true},
			want:    []string{"process 2 has 3 samples"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := stretches(c.samples, time.Minute, 3*time.Minute)
			if len(st) != len(c.judged) {
				t.Fatalf("%d stretches, want %d: %+v", len(st), len(c.judged), st)
			}
			for i, j := range c.judged {
				if st[i].Judged != j {
					t.Errorf("stretch %d judged %v, want %v", i, st[i].Judged, j)
				}
			}
			if !st[len(st)-1].Final {
				t.Error("the last stretch is not marked final")
			}
			bad := judgeGrowth(st, SoakLimits{Growth: 0.05, GrowthRSS: 0.05})
			if (len(c.want) == 0) != (len(bad) == 0) || len(bad) > 1 {
				t.Fatalf("failures %q, want one with %q", bad, c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(strings.Join(bad, "\n"), w) {
					t.Errorf("failures %q lack %q", bad, w)
				}
			}
		})
	}
	if bad := judgeGrowth(nil, SoakLimits{Growth: 0.05, GrowthRSS: 0.05}); len(bad) != 1 {
		t.Errorf("no samples: %q", bad)
	}
}

func TestJudgeRuns(t *testing.T) {
	ok := func(reason string) RunVerdict {
		return RunVerdict{Run: "soak/x", Sealed: true, SealReason: reason, SignatureChecked: true, Witness: "agrees"}
	}
	bad := ok("interrupted")
	bad.Exit, bad.Problems = 1, []string{"modified sources/cam1/000001.mp4: sha256 differs"}
	unsigned := ok("stopped")
	unsigned.SignatureChecked = false
	noWitness := ok("stopped")
	noWitness.Witness = "none"
	cases := []struct {
		name  string
		runs  []RunVerdict
		kills int
		want  []string
	}{
		{"every run intact", []RunVerdict{ok("interrupted"), ok("interrupted"), ok("stopped")}, 2, nil},
		{"a run with a problem", []RunVerdict{bad, ok("stopped")}, 1, []string{"does not verify"}},
		{"a kill without its repaired run", []RunVerdict{ok("stopped")}, 1, []string{"0 runs repaired as interrupted after 1 kills"}},
		{"signature not checked", []RunVerdict{unsigned}, 0, []string{"signature was not checked"}},
		{"no witness", []RunVerdict{noWitness}, 0, []string{"witness"}},
		{"nothing recorded", nil, 0, []string{"no run folder"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := judgeRuns(c.runs, c.kills)
			if len(got) != len(c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("got %q, want %q", got[i], w)
				}
			}
		})
	}
}

package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// SoakReport is everything one soak measured: the JSON written by --json.
type SoakReport struct {
	Command   string     `json:"command"`
	StartedAt time.Time  `json:"started_at"`
	Machine   Machine    `json:"machine"`
	Encoder   Codec      `json:"encoder"`
	Decoder   Codec      `json:"decoder"`
	Params    SoakParams `json:"params"`
	Limits    SoakLimits `json:"limits"`
	ElapsedS  float64    `json:"elapsed_s"`
	// LoadAvg1End is the machine's load average at the end: above the
	// core count, other work competed with the soak.
	LoadAvg1End float64 `json:"load_average_1m_at_end"`

	Kills     []KillFigures      `json:"kills"`
	Runs      []RunVerdict       `json:"runs"`
	Composite StallFigures       `json:"composite"`
	Viewers   ViewerChurnFigures `json:"viewers"`
	// CameraDrops and PointChanges count the faults made.
	CameraDrops  int              `json:"camera_drops"`
	PointChanges int              `json:"point_changes"`
	Stretches    []StretchFigures `json:"stretches"`
	Samples      []ResourceSample `json:"samples"`
	Events       []SoakEvent      `json:"events"`

	Pass     bool     `json:"pass"`
	Failures []string `json:"failures"`
	Notes    []string `json:"notes"`
}

// SoakParams are the soak's settings as run.
type SoakParams struct {
	DurationS     float64   `json:"duration_s"`
	Kills         int       `json:"kills"`
	Viewers       int       `json:"viewers"`
	Points        int       `json:"points"`
	Width         int       `json:"width"`
	Height        int       `json:"height"`
	FPS           int       `json:"fps"`
	BitrateKbps   int       `json:"bitrate_kbps"`
	OutKbps       int       `json:"out_bitrate_kbps"`
	DropEveryS    float64   `json:"camera_drop_every_s"`
	DropForS      float64   `json:"camera_down_s"`
	ChurnEveryS   float64   `json:"point_change_every_s"`
	ViewerStayS   string    `json:"viewer_stay_s"`
	QuietTail     float64   `json:"quiet_tail"`
	WarmupS       float64   `json:"warmup_s"`
	SampleEveryS  float64   `json:"sample_every_s"`
	JudgeSpanS    float64   `json:"judge_span_s"`
	PartS         float64   `json:"part_s"`
	Seed          int64     `json:"seed"`
	ArchiveDir    string    `json:"archive_dir,omitempty"`
	KillsPlannedS []float64 `json:"kills_planned_at_s"`
}

func paramsOf(o SoakOptions) SoakParams {
	return SoakParams{
		DurationS: o.Duration.Seconds(), Kills: o.Kills, Viewers: o.Viewers, Points: o.Points,
		Width: o.Width, Height: o.Height, FPS: o.FPS, BitrateKbps: o.BitrateKbps, OutKbps: o.OutKbps,
		DropEveryS: o.DropEvery.Seconds(), DropForS: o.DropFor.Seconds(), ChurnEveryS: o.ChurnEvery.Seconds(),
		ViewerStayS: fmt.Sprintf("%.0f–%.0f", o.ViewerStayMin.Seconds(), o.ViewerStayMax.Seconds()),
		QuietTail:   o.QuietTail, WarmupS: o.Warmup.Seconds(), SampleEveryS: o.SampleEvery.Seconds(),
		JudgeSpanS: o.JudgeSpan.Seconds(), PartS: soakPart.Seconds(), Seed: o.Seed, ArchiveDir: o.ArchiveDir,
	}
}

// KillFigures are one SIGKILL and what it cost.
type KillFigures struct {
	N        int          `json:"n"`
	AtS      float64      `json:"at_s"`
	Run      string       `json:"run"`       // the run it interrupted
	ReadyS   float64      `json:"ready_s"`   // kill to the new process's /readyz
	ResumedS float64      `json:"resumed_s"` // kill to recording again, in a new run
	Streams  []StreamLoss `json:"streams"`
	// MaxLostParts is the worst stream's loss, in parts.
	MaxLostParts float64 `json:"max_lost_parts"`

	snap   *killSnapshot
	killAt time.Time
}

func (r *SoakReport) fail(format string, a ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, a...))
}

func (r *SoakReport) note(format string, a ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, a...))
}

// WriteJSON writes the report, indented, to path.
func (r *SoakReport) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteTable prints the verdict and the figures behind it for people.
func (r *SoakReport) WriteTable(w io.Writer) {
	m := r.Machine
	p := r.Params
	fmt.Fprintf(w, "diemcau bench soak · %s, %d cores · GStreamer %s · encoder %s, decoder %s · load average %.2f at start, %.2f at end\n",
		m.CPUModel, m.Cores, m.GStreamer, r.Encoder.Element, r.Decoder.Element, m.LoadAvg1, r.LoadAvg1End)
	fmt.Fprintf(w, "%.0f s · %d points %dx%d@%d · %d viewers · %d kills · %d camera drops · %d point changes\n",
		r.ElapsedS, p.Points, p.Width, p.Height, p.FPS, p.Viewers, len(r.Kills), r.CameraDrops, r.PointChanges)

	worstLoss, worstReady, worstResumed := 0.0, 0.0, 0.0
	for _, k := range r.Kills {
		worstLoss = max(worstLoss, k.MaxLostParts)
		worstReady = max(worstReady, k.ReadyS)
		worstResumed = max(worstResumed, k.ResumedS)
	}
	verified := 0
	for _, run := range r.Runs {
		if run.Exit == 0 && len(run.Problems) == 0 && run.Sealed {
			verified++
		}
	}
	c := r.Composite
	fmt.Fprintf(w, "runs verified:        %d of %d (signed seals, store witness)\n", verified, len(r.Runs))
	fmt.Fprintf(w, "lost per kill:        worst %.2f parts (limit %.0f + 2 frames); kill → ready worst %.1f s, → recording worst %.1f s\n",
		worstLoss, r.Limits.LostPartsPerKill, worstReady, worstResumed)
	fmt.Fprintf(w, "composite at reader:  %d frames, longest gap %.0f ms as read, %.0f ms the server's (limit %.0f), p99 %s ms, p99.9 %.0f ms, %d gaps over the limit as read, %d the server's, %d reader drops\n",
		c.Frames, c.MaxGapMs, c.MaxServerMs, r.Limits.StallMs, f0p(c.IntervalMs.P99), c.P999Ms, c.GapsOver, c.OverLimit, c.ReaderDrops)
	fmt.Fprintf(w, "machine:              the bench itself was not run for %.1f s in %d freezes over 50 ms, the longest %.2f s\n",
		c.MachineTotalS, c.MachineFreezes, c.MachineLongestS)
	v := r.Viewers
	fmt.Fprintf(w, "viewers:              %d joins, %d with video, %d failed and %d without video outside kills\n", v.Joins, v.WithMedia, v.Failed, v.NoMedia)
	for _, s := range r.Stretches {
		if !s.Judged {
			continue
		}
		tag := ""
		if s.Final {
			tag = " (final)"
		}
		fmt.Fprintf(w, "process %d%s %.0f–%.0f s: goroutines %+.1f %% (%.0f), RSS %+.1f %% (%s; Go heap %+.1f %%, %s), open fds %+.1f %% (%.0f) · limits %.0f %%, RSS %.0f %%\n",
			s.Gen, tag, s.FromS, s.ToS, 100*s.Goroutines.Growth, s.Goroutines.Last, 100*s.RSS.Growth, mb(uint64(s.RSS.Last)),
			100*s.GoHeap.Growth, mb(uint64(s.GoHeap.Last)), 100*s.FDs.Growth, s.FDs.Last, 100*r.Limits.Growth, 100*r.Limits.GrowthRSS)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note: "+n)
	}
	if r.Pass {
		fmt.Fprintln(w, "PASS")
		return
	}
	fmt.Fprintf(w, "FAIL:\n  %s\n", strings.Join(r.Failures, "\n  "))
}

package harness

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// SoakOptions are the flags of `diemcau bench soak`: a live recorded
// session run for Duration under faults (cameras dropping, viewers and
// points coming and going, the server SIGKILLed and restarted), judged
// against the limits in SoakLimits. See bench/README.md, "Soak".
type SoakOptions struct {
	// Binary is the diemcau executable run as camsim and as the server.
	Binary string

	Duration time.Duration // the whole soak. Default 30 min
	Kills    int           // SIGKILLs of the server, each followed by a restart. Default 20
	Viewers  int           // WHEP viewers of the composite, joining and leaving. Default 50
	Points   int           // cameras (one camsim process each) and points. Default 4

	// The cameras' pictures; the composite has the same size.
	Width, Height, FPS, BitrateKbps int
	OutKbps                         int    // the composite's bitrate. Default 1000
	Encoder, Decoder                string // pipeline.encoder/decoder. Default auto

	// DropEvery: one camera (in turn) is stopped this often, for DropFor,
	// then started again on the same port. Defaults 30 s and 5 s.
	DropEvery, DropFor time.Duration
	// ChurnEvery: a point leaves the session (PATCH of its points) or the
	// one that left joins again, in turn. Default 1 min.
	ChurnEvery time.Duration
	// ViewerStay: each viewer stays between these, then leaves and joins
	// again within ViewerPause. Defaults 15–45 s and 1 s.
	ViewerStayMin, ViewerStayMax, ViewerPause time.Duration

	// QuietTail is the share of Duration at the end with no kill, so the
	// resources are judged over one long stretch too. Default 1/3.
	QuietTail float64
	// Warmup is skipped after each (re)start before resources are judged.
	// Default 60 s.
	Warmup time.Duration
	// SampleEvery: /metrics is read this often. Default 5 s.
	SampleEvery time.Duration
	// JudgeSpan: a stretch between kills whose post-warm-up part is at
	// least this long has its growth judged (the final stretch always
	// is). Default 3 min.
	JudgeSpan time.Duration

	Limits SoakLimits

	// Seed makes the kill moments and the viewers' stays repeatable; 0
	// takes the clock.
	Seed int64
	// ArchiveDir: archive here (the disk to judge); default the run folder.
	ArchiveDir string
	Keep       bool // keep the run folder: config, logs, archive, store

	JSON     string    // write the report here; empty: none
	Out      io.Writer // the summary table; nil: none
	Progress io.Writer // the live progress line; nil: none
	Command  string    // the command line, for the report
}

// SoakLimits are what the soak must hold; breaking one fails it.
type SoakLimits struct {
	// LostPartsPerKill: per kill and stream, the parts (archive.part of
	// media) the kill cost, measured as in soak_archive.go. Default 1.
	LostPartsPerKill float64 `json:"lost_parts_per_kill"`
	// StallMs: the longest time between two composite frames at a reader,
	// outside the kill windows: the slate delay (mixer: a point without a
	// picture for 1 s gets its slate), 1000 ms.
	StallMs float64 `json:"stall_ms"`
	// Growth: (mean of the last third − mean of the first third) / mean
	// of the first third of a stretch's post-warm-up samples, for
	// goroutines and open fds, and for RSS unless GrowthRSS is set.
	// Default 0.05.
	Growth    float64 `json:"growth"`
	GrowthRSS float64 `json:"growth_rss"`
}

func (o *SoakOptions) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defD(&o.Duration, 30*time.Minute)
	if o.Kills < 0 {
		o.Kills = 0
	}
	def(&o.Viewers, 50)
	def(&o.Points, 4)
	def(&o.Width, 640)
	def(&o.Height, 360)
	def(&o.FPS, 15)
	def(&o.BitrateKbps, 800)
	def(&o.OutKbps, 1000)
	if o.Encoder == "" {
		o.Encoder = "auto"
	}
	if o.Decoder == "" {
		o.Decoder = "auto"
	}
	defD(&o.DropEvery, 30*time.Second)
	defD(&o.DropFor, 5*time.Second)
	defD(&o.ChurnEvery, time.Minute)
	defD(&o.ViewerStayMin, 15*time.Second)
	defD(&o.ViewerStayMax, 45*time.Second)
	defD(&o.ViewerPause, time.Second)
	if o.QuietTail <= 0 {
		o.QuietTail = 1.0 / 3
	}
	defD(&o.Warmup, time.Minute)
	defD(&o.SampleEvery, 5*time.Second)
	defD(&o.JudgeSpan, 3*time.Minute)
	if o.Limits.LostPartsPerKill <= 0 {
		o.Limits.LostPartsPerKill = 1
	}
	if o.Limits.StallMs <= 0 {
		o.Limits.StallMs = 1000
	}
	if o.Limits.Growth <= 0 {
		o.Limits.Growth = 0.05
	}
	if o.Limits.GrowthRSS <= 0 {
		o.Limits.GrowthRSS = o.Limits.Growth
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
}

// Validate names the first bad option.
func (o *SoakOptions) Validate() error {
	switch {
	case o.Binary == "":
		return errors.New("binary: the diemcau executable is needed to run camsim and the server")
	case o.Width%2 != 0 || o.Height%2 != 0:
		return errors.New("--size: width and height must be even")
	case o.Points < 2:
		return fmt.Errorf("--points %d: at least 2 (one leaves while the others stay)", o.Points)
	case o.Duration < time.Minute:
		return fmt.Errorf("--duration %s: at least 1 min", o.Duration)
	case o.QuietTail >= 1:
		return fmt.Errorf("quiet tail %.2f: must leave time for the kills", o.QuietTail)
	case o.ViewerStayMax < o.ViewerStayMin:
		return errors.New("viewer stay: max below min")
	case o.Warmup >= time.Duration(float64(o.Duration)*o.QuietTail):
		return fmt.Errorf("--warmup %s: leaves nothing of the final stretch (%s) to judge", o.Warmup, time.Duration(float64(o.Duration)*o.QuietTail))
	}
	return nil
}

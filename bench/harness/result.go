package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// Report is everything one `diemcau bench` invocation measured: the JSON
// written by --json and the data behind the table and the HTML page.
type Report struct {
	Scenario  string    `json:"scenario"`
	Command   string    `json:"command"`
	StartedAt time.Time `json:"started_at"`
	Machine   Machine   `json:"machine"`
	Encoder   Codec     `json:"encoder"`
	Decoder   Codec     `json:"decoder"`
	Sweep     *Sweep    `json:"sweep"`
	Runs      []*Run    `json:"runs"`
}

// Codec is an element the server chose (GET /api/v1/info).
type Codec struct {
	Element  string `json:"element"`
	Hardware bool   `json:"hardware"`
}

// Sweep is the series of loads and the answer buyers need: the largest
// load that held real time.
type Sweep struct {
	Param  string `json:"param"`
	Values []int  `json:"values"`
	// Carries is the largest load that held real time with every smaller
	// load holding too; 0 when the smallest did not.
	Carries int `json:"carries"`
	// LargestHeld is the largest load that held at all (noise on a shared
	// machine can make a middle step fail).
	LargestHeld int `json:"largest_held"`
}

// Params are the settings of one run.
type Params struct {
	Cameras     int     `json:"cameras,omitempty"` // relay: camsim cameras
	Viewers     int     `json:"viewers,omitempty"` // relay: per camera; session: of the composite
	Inputs      int     `json:"inputs,omitempty"`  // composite: points
	Streams     int     `json:"streams,omitempty"` // record: points archived
	Points      int     `json:"points,omitempty"`  // session
	Width       int     `json:"width"`             // camsim pictures
	Height      int     `json:"height"`
	FPS         int     `json:"fps"`
	BitrateKbps int     `json:"bitrate_kbps"`        // per camera
	Audio       bool    `json:"audio"`               // cameras carry audio
	OutWidth    int     `json:"out_width,omitempty"` // the composite's
	OutHeight   int     `json:"out_height,omitempty"`
	OutKbps     int     `json:"out_bitrate_kbps,omitempty"`
	WarmupS     float64 `json:"warmup_s"`
	SecondsS    float64 `json:"seconds"`
	Target      string  `json:"target,omitempty"` // --target: a running server
	ArchiveDir  string  `json:"archive_dir,omitempty"`
}

// ProcessFigures are one process's costs over the measured window.
type ProcessFigures struct {
	// Role: server, camsim, bench (this process: WHEP viewers, the RTSP
	// reader), gst-launch (the bare baseline).
	Role string `json:"role"`
	PID  int    `json:"pid"`
	// CPU is user+system time over wall time, in cores (1.0 = one core).
	CPU     float64 `json:"cpu_cores"`
	CPUUser float64 `json:"cpu_user_cores"`
	CPUSys  float64 `json:"cpu_sys_cores"`
	// PeakRSS is VmHWM: the largest resident set since the process started.
	PeakRSS uint64 `json:"peak_rss_bytes"`
	// From: "proc" (/proc/PID) or "metrics" (a --target server's own
	// process_* metrics, which give no peak RSS: the current one is shown).
	From string `json:"from"`
	// Threads is the CPU per group of like-named threads over the window
	// (/proc/PID/task), the busiest first; absent for metrics.
	Threads []ThreadGroup `json:"threads,omitempty"`
}

// Percentiles of a distribution, in milliseconds; nil where unmeasured.
type Percentiles struct {
	P50 *float64 `json:"p50"`
	P95 *float64 `json:"p95"`
	P99 *float64 `json:"p99"`
}

// ViewerFigures are what the WHEP viewers of a run received.
type ViewerFigures struct {
	Total        int     `json:"total"`
	Connected    int     `json:"connected"`
	Starved      int     `json:"starved"`   // got nothing in the window
	NoTracks     int     `json:"no_tracks"` // never got both tracks
	Packets      uint64  `json:"packets"`
	Bytes        uint64  `json:"bytes"`
	MbpsEach     float64 `json:"mbps_each"`
	ConnectS     float64 `json:"connect_s"` // to connect them all
	LoadGenCPU   float64 `json:"load_gen_cpu_cores"`
	ReferenceFPS float64 `json:"reference_fps"` // one viewer counting whole frames
}

// Baseline is the bare gst-launch-1.0 pipeline of the same elements, run
// in the same invocation so noise on a shared machine mostly cancels.
type Baseline struct {
	Pipeline string  `json:"pipeline"`
	CPU      float64 `json:"cpu_cores"`
	PeakRSS  uint64  `json:"peak_rss_bytes"`
	FPS      float64 `json:"fps"`
	WindowS  float64 `json:"window_s"`
	// CPURatio is our server's CPU over the bare pipeline's (camsim left
	// out of both): pictures only, the figure before the audio was added.
	CPURatio float64 `json:"cpu_ratio"`
	// AudioPipeline is the server's audio for the same points (the full
	// mix and a mix-minus per point, encoded), run beside the pictures'
	// pipeline in its own gst-launch-1.0; AudioCPU its CPU.
	AudioPipeline string  `json:"audio_pipeline"`
	AudioCPU      float64 `json:"audio_cpu_cores"`
	// FairCPURatio is our server's CPU over both bare pipelines': the
	// same picture and audio work on both sides.
	FairCPURatio float64 `json:"fair_cpu_ratio"`
	// Threads is the pictures' pipeline's CPU per thread group.
	Threads []ThreadGroup `json:"threads,omitempty"`
}

// Sample is one second of the window, for the progress line and the charts.
type Sample struct {
	T         float64 `json:"t"`
	ServerCPU float64 `json:"server_cpu_cores"`
	FPS       float64 `json:"fps"`
}

// Run is one load point of a scenario. Every figure is always present in
// the JSON; null means not measured in this scenario or this setup, and
// Notes say why.
type Run struct {
	Scenario string  `json:"scenario"`
	LoadName string  `json:"load_name"`
	Load     int     `json:"load"`
	Params   Params  `json:"params"`
	WindowS  float64 `json:"window_s"`

	// LoadAvg1 is the machine's 1-minute load average at the end of the
	// window: above the core count, other work competed with the run.
	LoadAvg1      float64          `json:"load_average_1m"`
	Processes     []ProcessFigures `json:"processes"`
	ServerCPU     *float64         `json:"server_cpu_cores"`
	ServerPeakRSS *uint64          `json:"server_peak_rss_bytes"`

	TargetFPS       float64     `json:"target_fps"`
	DeliveredFPS    *float64    `json:"delivered_fps"`     // mean over the outputs or viewers
	DeliveredFPSMin *float64    `json:"delivered_fps_min"` // the worst of them
	MixerFPS        *float64    `json:"mixer_fps"`
	DroppedFrames   *uint64     `json:"dropped_frames"`
	RTPLost         *uint64     `json:"rtp_lost"`       // at the viewers or outputs
	InputRTPLost    *uint64     `json:"input_rtp_lost"` // at the server's ingest
	LatencyMs       Percentiles `json:"latency_ms"`     // the mixer's, point frame in to composite out
	FrameIntervalMs Percentiles `json:"frame_interval_ms"`
	FirstFrameMs    *float64    `json:"first_frame_ms"` // a new viewer or reader: request to first whole frame
	// OutputMissingFrames are frames missing from what a reader of the
	// output received, found by gaps in the RTP timestamps.
	OutputMissingFrames *uint64 `json:"output_missing_frames"`

	BytesWritten       *int64   `json:"bytes_written"` // archived in the window
	BytesWrittenPerS   *float64 `json:"bytes_written_per_s"`
	DiskWriteBytesPerS *float64 `json:"disk_write_bytes_per_s"` // the server's, /proc/PID/io
	FsyncP99Ms         *float64 `json:"fsync_p99_ms"`
	ArchivedFPS        *float64 `json:"archived_fps"` // video samples per second in the archive, per stream

	// EndToEnd is camera to WHEP viewer, timed with the avsync pattern
	// (session).
	EndToEnd *EndToEnd `json:"end_to_end"`
	// AV is the lip sync and sound of each output, measured with the
	// avsync pattern (session).
	AV []OutputAV `json:"av"`
	// Nodes: a hub and its point nodes, each its own process (nodes).
	Nodes *NodeFigures `json:"nodes"`
	// Step: relay's second window with more viewers, and the slope.
	Step *RelayStep `json:"step"`
	// WithoutSub: composite --sub, the same cameras composited without
	// their sub-streams first, in the same run; the run's own figures are
	// with them.
	WithoutSub *SubCompare `json:"without_sub"`
	// OnSub: composite --sub, the points whose tiles decoded the
	// sub-stream at the end of the window (of Params.Inputs).
	OnSub *int `json:"points_on_sub"`
	// Renditions: session --low, the viewers on each rendition at the
	// end of the window, and their moves between renditions in all.
	Renditions     map[string]int `json:"renditions,omitempty"`
	RenditionMoves *uint64        `json:"rendition_moves,omitempty"`

	Viewers  *ViewerFigures `json:"viewers"`
	Encoder  string         `json:"encoder"`
	Decoder  string         `json:"decoder"`
	Baseline *Baseline      `json:"baseline"`

	RealTime    bool     `json:"real_time"`
	NotRealTime string   `json:"not_real_time,omitempty"`
	Samples     []Sample `json:"samples"`
	Notes       []string `json:"notes"`
	Error       string   `json:"error,omitempty"`

	extra []string // scenario-specific reasons it did not hold real time
}

// fail adds a reason the run did not hold real time.
func (r *Run) fail(format string, a ...any) { r.extra = append(r.extra, fmt.Sprintf(format, a...)) }

func (r *Run) note(format string, a ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, a...)) }

// judge sets RealTime: delivered fps at least 98% of the target, and no
// frame dropped or packet lost on the way.
func (r *Run) judge() {
	var why []string
	switch {
	case r.DeliveredFPS == nil:
		why = append(why, "no delivered fps")
	case *r.DeliveredFPS < 0.98*r.TargetFPS:
		why = append(why, fmt.Sprintf("delivered %.1f fps < 98%% of %.0f", *r.DeliveredFPS, r.TargetFPS))
	}
	if r.DeliveredFPSMin != nil && *r.DeliveredFPSMin < 0.98*r.TargetFPS {
		why = append(why, fmt.Sprintf("worst output %.1f fps", *r.DeliveredFPSMin))
	}
	if r.DroppedFrames != nil && *r.DroppedFrames > 0 {
		why = append(why, fmt.Sprintf("%d frames dropped", *r.DroppedFrames))
	}
	if r.OutputMissingFrames != nil && *r.OutputMissingFrames > 0 && (r.DroppedFrames == nil || *r.DroppedFrames != *r.OutputMissingFrames) {
		why = append(why, fmt.Sprintf("%d frames missing at the output", *r.OutputMissingFrames))
	}
	if r.RTPLost != nil && *r.RTPLost > 0 {
		why = append(why, fmt.Sprintf("%d RTP packets lost", *r.RTPLost))
	}
	if r.InputRTPLost != nil && *r.InputRTPLost > 0 {
		why = append(why, fmt.Sprintf("%d RTP packets lost at ingest", *r.InputRTPLost))
	}
	why = append(why, r.extra...)
	r.RealTime = len(why) == 0 && r.Error == ""
	if r.Error != "" {
		why = append(why, "error: "+r.Error)
	}
	r.NotRealTime = strings.Join(why, "; ")
}

// WriteJSON writes the report, indented, to path.
func (rep *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// findCarries fills in the sweep's answer from its runs.
func (s *Sweep) findCarries(runs []*Run) {
	sorted := append([]*Run(nil), runs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Load < sorted[j].Load })
	s.Carries, s.LargestHeld = 0, 0
	broken := false
	for _, r := range sorted {
		if r.RealTime {
			s.LargestHeld = r.Load
			if !broken {
				s.Carries = r.Load
			}
		} else {
			broken = true
		}
	}
}

func ptr[T any](v T) *T { return &v }

// percentiles of d (milliseconds); nil fields when d is empty.
func percentiles(d []float64) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := append([]float64(nil), d...)
	sort.Float64s(s)
	at := func(q float64) *float64 {
		i := int(q*float64(len(s)-1) + 0.5)
		return ptr(s[i])
	}
	return Percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99)}
}

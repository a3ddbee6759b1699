package avsync

// EBU R37 (the hard limit for lip sync at the output of a chain): sound may
// lead the picture by at most 40 ms and lag it by at most 60 ms. Offsets
// here are beep onset minus flash onset: positive means the sound is late.
const (
	EarlyLimitMS = -40.0
	LateLimitMS  = 60.0
	// MinAudioPercent is the least share of the expected samples that
	// must arrive.
	MinAudioPercent = 98.0
)

// Verdicts.
const (
	Pass = "pass"
	Fail = "fail"
)

// Report is what the meter found. It never carries credentials.
type Report struct {
	Input string `json:"input"` // URL with credentials masked, or the file
	Kind  string `json:"kind"`  // rtsp, whep or file
	// Seconds is the media time analysed (the video's span, or the
	// audio's without video).
	Seconds float64      `json:"seconds"`
	Clock   string       `json:"clock,omitempty"`
	Video   *VideoReport `json:"video"`
	Audio   *AudioReport `json:"audio"`
	// Offset is the pattern's A/V offset over every pair found; nil when
	// the pattern is not in the feed (shown as n/a).
	Offset *Offset `json:"offset"`
	// Points are the offsets per pattern source: one per beep tone, paired
	// with the flashing region nearest in time (a mix of several points).
	Points  []PointOffset `json:"points"`
	Verdict string        `json:"verdict"`
	Reasons []string      `json:"reasons"`
}

// VideoReport is the picture as measured.
type VideoReport struct {
	Codec       string  `json:"codec"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	DeclaredFPS float64 `json:"declared_fps"`
	MeasuredFPS float64 `json:"measured_fps"`
	Frames      int     `json:"frames"`
	// Holes are jumps in the timestamps longer than 3 frame durations;
	// Freezes, pictures unchanged for longer than that (and 200 ms).
	Holes   []Gap `json:"holes"`
	Freezes []Gap `json:"freezes"`
	Flashes int   `json:"flashes"`
}

// AudioReport is the sound as measured.
type AudioReport struct {
	Codec      string `json:"codec"`
	SampleRate int    `json:"sample_rate"` // declared
	Channels   int    `json:"channels"`
	// Samples arrived within the analysed span, at AudioRate.
	Samples          int64   `json:"samples"`
	SamplesPerSecond float64 `json:"samples_per_s"`
	// Present is Samples as a percentage of the span times AudioRate.
	Present         float64 `json:"present_pct"`
	FramesPerSecond float64 `json:"frames_per_s"` // decoded frames
	PeakDBFS        float64 `json:"peak_dbfs"`    // of the mono mix; -120 for digital silence
	RMSDBFS         float64 `json:"rms_dbfs"`     // a full-scale sine reads -3
	// Holes are stretches without samples longer than 3 frame durations,
	// at the start and end of the span too.
	Holes []Gap `json:"holes"`
	Beeps int   `json:"beeps"`
}

// Gap is a hole or a freeze: where it starts (media seconds from the
// start of the span) and how long it lasts.
type Gap struct {
	At       float64 `json:"at_s"`
	Duration float64 `json:"duration_ms"`
}

// Offset summarises beep-minus-flash offsets in milliseconds.
type Offset struct {
	Median float64 `json:"median_ms"`
	Min    float64 `json:"min_ms"`
	Max    float64 `json:"max_ms"`
	Stdev  float64 `json:"stdev_ms"`
	Pairs  int     `json:"pairs"`
}

// PointOffset is the offset of one pattern source in the feed.
type PointOffset struct {
	ToneHz float64 `json:"tone_hz"`
	// Region is where its flash is, as fractions of the picture.
	Region Rect `json:"region"`
	Offset
}

// Rect is a part of the picture, in fractions of its width and height.
type Rect struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// InLimits tells whether an offset in ms is within EBU R37.
func InLimits(ms float64) bool { return ms >= EarlyLimitMS && ms <= LateLimitMS }

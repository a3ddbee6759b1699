package harness

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Options are the flags of `diemcau bench SCENARIO`.
type Options struct {
	// Binary is the diemcau executable run as camsim and as the server;
	// the command passes itself (os.Executable).
	Binary string
	// Target is the base URL (http://host:port) of a running server to
	// measure instead of starting one; Token is an admin token of it.
	// TargetPID, when the server runs on this machine, gives /proc
	// figures; without it CPU and memory come from its /metrics.
	Target         string
	Token          string
	TargetPID      int
	TargetRTSPPort int // its rtsp.listen port. Default 8554
	// CamsimHost is the address camsim listens on; a --target on another
	// machine must reach it. Default 127.0.0.1.
	CamsimHost string

	Warmup  time.Duration // after everything runs, before the window. Default 5 s
	Seconds time.Duration // the measured window. Default 15 s
	// AVSeconds is the media the A/V meter reads on each live output of
	// session, after the window. Default 10 s
	AVSeconds time.Duration

	// The cameras' pictures (camsim).
	Width, Height, FPS, BitrateKbps int
	// The composite's picture and bitrate. Default: the cameras' size, 2500 kbps.
	OutWidth, OutHeight, OutKbps int
	// Encoder and Decoder force the started server's codec choice
	// (pipeline.encoder/decoder). Default auto.
	Encoder, Decoder string

	// The load of each scenario: relay (cameras, viewers per camera),
	// composite (inputs), record (streams), session (points, viewers),
	// nodes (point nodes).
	Cameras, Viewers, Inputs, Streams, Points, Nodes int

	// StepViewers (relay): viewers added after the first window, for a
	// second window in the same run; the server's CPU and memory per
	// viewer are then the slope between the two loads.
	StepViewers int
	// Senders is the started server's webrtc.senders (relay sweeps it to
	// compare one sender per stream with one per core). 0: its default.
	Senders int

	// Sweep is "PARAM=V1,V2,…": one run per value of that load.
	Sweep string
	// NoBaseline skips composite's bare gst-launch pipeline.
	NoBaseline bool
	// Sub (composite): every camera also sends a sub-stream of
	// SubWidth x SubHeight; the run measures the composite without them,
	// then with them, in the same run.
	Sub                 bool
	SubWidth, SubHeight int
	// Low is the started server's pipeline.low_rendition ("WxH@KBPS"):
	// every composite is also encoded small, and session reports its
	// viewers on each rendition and their moves. "": none.
	Low string
	// ArchiveDir is where record and session archive (the disk to judge);
	// default a temporary folder, removed afterwards.
	ArchiveDir string
	// Keep leaves each run's folder (config, logs, archive) in place.
	Keep bool

	JSON, HTML string    // files to write; empty: none
	Out        io.Writer // the table; nil: none
	Progress   io.Writer // the live progress line; nil: none
	Command    string    // the command line, for the report
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Width, 1280)
	def(&o.Height, 720)
	def(&o.FPS, 30)
	def(&o.BitrateKbps, 2000)
	def(&o.OutWidth, o.Width)
	def(&o.OutHeight, o.Height)
	def(&o.OutKbps, 2500)
	def(&o.TargetRTSPPort, 8554)
	def(&o.Cameras, 1)
	def(&o.Viewers, 10)
	def(&o.Inputs, 4)
	def(&o.Streams, 8)
	def(&o.Points, 4)
	def(&o.Nodes, 2)
	if o.Warmup <= 0 {
		o.Warmup = 5 * time.Second
	}
	if o.Seconds <= 0 {
		o.Seconds = 15 * time.Second
	}
	if o.AVSeconds <= 0 {
		o.AVSeconds = 10 * time.Second
	}
	if o.CamsimHost == "" {
		o.CamsimHost = "127.0.0.1"
	}
	if o.Encoder == "" {
		o.Encoder = "auto"
	}
	if o.Decoder == "" {
		o.Decoder = "auto"
	}
}

// Validate names the first bad flag.
func (o *Options) Validate() error {
	switch {
	case o.Binary == "":
		return errors.New("binary: the diemcau executable is needed to run camsim and the server")
	case o.Target != "" && o.Token == "":
		return errors.New("--token: required with --target")
	case o.Target != "" && !strings.HasPrefix(o.Target, "http://") && !strings.HasPrefix(o.Target, "https://"):
		return fmt.Errorf("--target %q: want http://host:port", o.Target)
	case o.Width%2 != 0 || o.Height%2 != 0 || o.OutWidth%2 != 0 || o.OutHeight%2 != 0:
		return errors.New("--size/--output: width and height must be even")
	case o.Seconds < time.Second:
		return fmt.Errorf("--seconds %s: at least 1 s", o.Seconds)
	}
	return nil
}

// load reads and sets the load parameters by their sweep name.
func (o *Options) load(name string) *int {
	switch name {
	case "cameras":
		return &o.Cameras
	case "viewers":
		return &o.Viewers
	case "inputs":
		return &o.Inputs
	case "streams":
		return &o.Streams
	case "points":
		return &o.Points
	case "nodes":
		return &o.Nodes
	case "senders":
		return &o.Senders
	}
	return nil
}

// parseSweep reads "PARAM=V1,V2,…" for a scenario that sweeps params.
func parseSweep(s string, params []string) (string, []int, error) {
	name, list, ok := strings.Cut(s, "=")
	if !ok || list == "" {
		return "", nil, fmt.Errorf("--sweep %q: want PARAM=V1,V2,… with PARAM one of %s", s, strings.Join(params, ", "))
	}
	name = strings.TrimSpace(name)
	found := false
	for _, p := range params {
		found = found || p == name
	}
	if !found {
		return "", nil, fmt.Errorf("--sweep %q: this scenario sweeps %s", s, strings.Join(params, " or "))
	}
	var values []int
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return "", nil, fmt.Errorf("--sweep %q: %q is not a positive number", s, f)
		}
		values = append(values, v)
	}
	return name, values, nil
}

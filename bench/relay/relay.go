// Package relay is the WHEP relay load scenario (`diemcau bench relay`):
// cameras × viewers of passthrough streams through control/whep, with the
// server's CPU and memory per viewer measured apart from the load
// generator's, which runs in a process of its own.
package relay

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"diemcau/control/whep"
	"diemcau/pipeline"
)

// Config is one run of the scenario.
type Config struct {
	Cameras     int           // streams. Default 1
	Viewers     int           // viewers in all, spread over the cameras. Default 100
	BitrateKbps int           // video per camera. Default 2000
	FPS         int           // Default 30
	GOP         time.Duration // Default 2 s
	NoAudio     bool          // leave out the 32 kbps Opus track
	Warmup      time.Duration // after every viewer connected. Default 3 s
	Duration    time.Duration // the measured window. Default 20 s
	// LoadGen is the command that runs the viewers' process; Run appends
	// its flags. `diemcau bench relay` passes itself with the hidden
	// `relay-viewers` subcommand, which calls LoadGenMain. Empty: viewers
	// run in this process and the CPU figures include them.
	LoadGen []string
	// DisableGSO turns off UDP segmentation offload in the server, to
	// measure what it saves.
	DisableGSO bool
	// ManualFeed leaves the cameras silent so a benchmark writes frames
	// itself (Harness.WriteFrame).
	ManualFeed bool
	// Senders is the server's whep.Config.Senders: 0 one per core, 1 one
	// sender per stream.
	Senders int
}

func (c *Config) defaults() {
	if c.Cameras <= 0 {
		c.Cameras = 1
	}
	if c.Viewers < 0 {
		c.Viewers = 0
	}
	if c.BitrateKbps <= 0 {
		c.BitrateKbps = 2000
	}
	if c.FPS <= 0 {
		c.FPS = 30
	}
	if c.GOP <= 0 {
		c.GOP = 2 * time.Second
	}
	if c.Warmup <= 0 {
		c.Warmup = 3 * time.Second
	}
	if c.Duration <= 0 {
		c.Duration = 20 * time.Second
	}
}

// Harness is a running server with its cameras and, when asked, viewers.
type Harness struct {
	cfg     Config
	Server  *whep.Server
	cams    []*synth
	token   string
	base    string
	stop    context.CancelFunc
	wg      sync.WaitGroup
	runErr  chan error
	httpSrv *http.Server

	lgIn   io.WriteCloser
	lgOut  *bufio.Reader
	lgDone chan error
	child  *exec.Cmd

	frameMu   sync.Mutex
	nextFrame int // ManualFeed: the next video frame to write

	// Memory of the server before any viewer came (Start measures it).
	heapBefore, rssBefore uint64
	cpuIdle               float64 // CPU share with cameras running and no viewer
	Ready                 loadEvent
}

type resolver struct{ cams map[string]*pipeline.Stream }

func (r resolver) Source(id string) (*pipeline.Stream, bool) {
	s, ok := r.cams[id]
	return s, ok
}

func (r resolver) Session(id, _ string) (*pipeline.Stream, error) {
	return nil, fmt.Errorf("session %q: %w", id, whep.ErrNotFound)
}

// Start runs a server on loopback with cfg.Cameras cameras and connects
// cfg.Viewers viewers.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Harness, error) {
	cfg.defaults()
	var tb [16]byte
	_, _ = rand.Read(tb[:])
	h := &Harness{cfg: cfg, token: hex.EncodeToString(tb[:]), runErr: make(chan error, 1)}
	res := resolver{cams: map[string]*pipeline.Stream{}}
	for i := range cfg.Cameras {
		c := newSynth(fmt.Sprintf("cam%d", i+1), cfg.BitrateKbps, cfg.FPS, cfg.GOP, !cfg.NoAudio)
		h.cams = append(h.cams, c)
		res.cams[c.stream.Name()] = c.stream
	}
	srv, err := whep.New(whep.Config{
		ListenIPs:     []string{"127.0.0.1"},
		MaxViewers:    cfg.Viewers + 100,
		MaxConnecting: 64,
		// Every load viewer comes from loopback: no per-address caps.
		MaxViewersPerIP:    -1,
		MaxConnectingPerIP: -1,
		// Generous: hundreds of handshakes on a busy two-core machine.
		ConnectTimeout: time.Minute,
		DisableGSO:     cfg.DisableGSO,
		Senders:        cfg.Senders,
	}, log, res, func(r *http.Request, _ whep.Target) (whep.Grant, bool) {
		return whep.Grant{Who: "token bench"}, r.Header.Get("Authorization") == "Bearer "+h.token
	})
	if err != nil {
		return nil, err
	}
	h.Server = srv
	runCtx, stop := context.WithCancel(context.Background())
	h.stop = stop
	go func() { h.runErr <- srv.Run(runCtx) }()
	select {
	case <-srv.Ready():
	case err := <-h.runErr:
		stop()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.Close()
		return nil, err
	}
	h.base = "http://" + ln.Addr().String()
	h.httpSrv = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	h.wg.Go(func() { _ = h.httpSrv.Serve(ln) })
	if !cfg.ManualFeed {
		for _, c := range h.cams {
			h.wg.Go(func() { c.run(runCtx) })
		}
	}
	// What the server holds with cameras running and nobody watching.
	time.Sleep(time.Second)
	h.heapBefore, h.rssBefore = memory()
	cpu0, t0 := processCPU(), time.Now()
	time.Sleep(time.Second)
	h.cpuIdle = (processCPU() - cpu0) / time.Since(t0).Seconds()

	if cfg.Viewers > 0 {
		// Viewers are ready once media flows; a silent camera gets a few
		// frames while they connect.
		warm := make(chan struct{})
		var warming sync.WaitGroup
		if cfg.ManualFeed {
			warming.Go(func() {
				t := time.NewTicker(100 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-warm:
						return
					case <-t.C:
						h.WriteFrame()
					}
				}
			})
		}
		err := h.startViewers(ctx)
		close(warm)
		warming.Wait()
		if err != nil {
			h.Close()
			return nil, err
		}
	}
	return h, nil
}

func (h *Harness) startViewers(ctx context.Context) error {
	var paths []string
	for _, c := range h.cams {
		paths = append(paths, "/whep/sources/"+c.stream.Name())
	}
	tracks := "2"
	if h.cfg.NoAudio {
		tracks = "1"
	}
	args := []string{"-url", h.base, "-token", h.token, "-paths", strings.Join(paths, ","), "-viewers", strconv.Itoa(h.cfg.Viewers), "-tracks", tracks}
	h.lgDone = make(chan error, 1)
	if len(h.cfg.LoadGen) > 0 {
		cmd := exec.Command(h.cfg.LoadGen[0], append(h.cfg.LoadGen[1:], args...)...)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("relay: start load generator: %w", err)
		}
		h.child, h.lgIn, h.lgOut = cmd, in, bufio.NewReader(out)
		go func() { h.lgDone <- cmd.Wait() }()
	} else {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		h.lgIn, h.lgOut = inW, bufio.NewReader(outR)
		a, err := parseLoadGenArgs(args)
		if err != nil {
			return err
		}
		go func() {
			err := runLoadGen(context.Background(), a, inR, outW)
			outW.CloseWithError(io.EOF)
			h.lgDone <- err
		}()
	}
	ev, err := h.readEvent(ctx, 10*time.Minute)
	if err != nil {
		return fmt.Errorf("relay: viewers: %w", err)
	}
	h.Ready = ev
	if ev.Failed > 0 {
		return fmt.Errorf("relay: %d of %d viewers did not connect; first error: %s", ev.Failed, h.cfg.Viewers, ev.Error)
	}
	return nil
}

func (h *Harness) readEvent(ctx context.Context, d time.Duration) (loadEvent, error) {
	type lineErr struct {
		line []byte
		err  error
	}
	ch := make(chan lineErr, 1)
	go func() {
		l, err := h.lgOut.ReadBytes('\n')
		ch <- lineErr{l, err}
	}()
	var ev loadEvent
	select {
	case r := <-ch:
		if r.err != nil {
			return ev, fmt.Errorf("load generator ended: %w", r.err)
		}
		return ev, json.Unmarshal(r.line, &ev)
	case <-ctx.Done():
		return ev, ctx.Err()
	case <-time.After(d):
		return ev, errors.New("no answer from the load generator")
	}
}

// WriteFrame writes the next video frame to every camera (ManualFeed).
func (h *Harness) WriteFrame() {
	h.frameMu.Lock()
	i := h.nextFrame
	h.nextFrame++
	h.frameMu.Unlock()
	for _, c := range h.cams {
		c.stream.Write(c.videoFrame(i))
	}
}

// Close sends the viewers away and stops the server.
func (h *Harness) Close() error {
	var errs []error
	if h.lgIn != nil {
		_ = h.lgIn.Close()
		select {
		case err := <-h.lgDone:
			if err != nil {
				errs = append(errs, fmt.Errorf("load generator: %w", err))
			}
		case <-time.After(60 * time.Second):
			if h.child != nil {
				_ = h.child.Process.Kill()
			}
			errs = append(errs, errors.New("load generator did not exit"))
		}
	}
	if h.httpSrv != nil {
		_ = h.httpSrv.Close()
	}
	h.stop()
	if err := <-h.runErr; err != nil {
		errs = append(errs, err)
	}
	h.wg.Wait()
	for _, c := range h.cams {
		c.stream.Close()
	}
	return errors.Join(errs...)
}

// Result is one run's figures.
type Result struct {
	Cameras     int     `json:"cameras"`
	Viewers     int     `json:"viewers"`
	BitrateKbps int     `json:"bitrate_kbps"`
	Seconds     float64 `json:"seconds"`
	// ServerCPU is the server process's CPU in the window, in cores (1.0 is
	// one core busy); ServerIdleCPU is the same with cameras and no viewer.
	ServerCPU     float64 `json:"server_cpu"`
	ServerIdleCPU float64 `json:"server_idle_cpu"`
	// CPUPerPacket is the server's CPU per packet sent to a viewer, in µs:
	// the figure that holds when a busy machine leaves the server behind.
	CPUPerPacket float64 `json:"cpu_per_packet_us"`
	// KeptUp says the server wrote every frame in time (within 2%).
	KeptUp bool `json:"kept_up"`
	// CPUPerViewer is (ServerCPU - ServerIdleCPU) / Viewers, in % of a core.
	CPUPerViewer float64 `json:"cpu_per_viewer"`
	// HeapPerViewer and RSSPerViewer are the growth of the Go heap (with
	// stacks) and of the resident set from no viewer to all, per viewer.
	HeapPerViewer   float64 `json:"heap_per_viewer"`
	RSSPerViewer    float64 `json:"rss_per_viewer"`
	FramesPerSecond float64 `json:"frames_per_second"` // written by the cameras in the window, all tracks
	PacketsSent     uint64  `json:"packets_sent"`      // by the server to viewers in the window
	PacketsReceived uint64  `json:"packets_received"`  // by the viewers
	AudioReceived   uint64  `json:"audio_received"`    // of which audio
	PacketsLost     uint64  `json:"packets_lost"`      // sequence gaps the viewers saw
	ViewersStarved  int     `json:"viewers_starved"`   // viewers that got nothing in the window
	ViewersNoTracks int     `json:"viewers_no_tracks"` // viewers whose tracks never started
	Datagrams       uint64  `json:"datagrams"`         // UDP datagrams sent through batches
	Syscalls        uint64  `json:"syscalls"`          // the sendmmsg calls that sent them
	LoadGenCPU      float64 `json:"load_gen_cpu"`
	LoadGenSeparate bool    `json:"load_gen_separate"`
}

// Run is the whole scenario: start, warm up, measure, stop.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (*Result, error) {
	cfg.defaults()
	h, err := Start(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	res, err := h.Measure(ctx)
	if cerr := h.Close(); err == nil {
		err = cerr
	}
	return res, err
}

// Measure waits out the warm-up and measures one window.
func (h *Harness) Measure(ctx context.Context) (*Result, error) {
	select {
	case <-time.After(h.cfg.Warmup):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	heap, rss := memory()
	st0, cpu0, t0 := h.Server.Stats(), processCPU(), time.Now()
	if _, err := io.WriteString(h.lgIn, "start\n"); err != nil {
		return nil, err
	}
	select {
	case <-time.After(h.cfg.Duration):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if _, err := io.WriteString(h.lgIn, "stop\n"); err != nil {
		return nil, err
	}
	st1, cpu1, el := h.Server.Stats(), processCPU(), time.Since(t0).Seconds()
	ev, err := h.readEvent(ctx, time.Minute)
	if err != nil {
		return nil, err
	}
	r := &Result{
		Cameras: h.cfg.Cameras, Viewers: h.cfg.Viewers, BitrateKbps: h.cfg.BitrateKbps, Seconds: el,
		ServerCPU: (cpu1 - cpu0) / el, ServerIdleCPU: h.cpuIdle,
		FramesPerSecond: float64(st1.Frames-st0.Frames) / el,
		PacketsSent:     st1.Sends - st0.Sends, PacketsReceived: ev.Packets, AudioReceived: ev.Audio, PacketsLost: ev.Lost, ViewersStarved: ev.Starved, ViewersNoTracks: ev.NoTracks,
		Datagrams: st1.Datagrams - st0.Datagrams, Syscalls: st1.Syscalls - st0.Syscalls,
		LoadGenCPU: ev.CPUSeconds / ev.WallSecond, LoadGenSeparate: h.child != nil,
	}
	want := float64(h.cfg.FPS * h.cfg.Cameras)
	if !h.cfg.NoAudio {
		want += float64(50 * h.cfg.Cameras)
	}
	r.KeptUp = r.FramesPerSecond >= 0.98*want
	if r.PacketsSent > 0 {
		r.CPUPerPacket = 1e6 * (cpu1 - cpu0 - h.cpuIdle*el) / float64(r.PacketsSent)
	}
	if h.cfg.Viewers > 0 {
		n := float64(h.cfg.Viewers)
		r.CPUPerViewer = 100 * (r.ServerCPU - r.ServerIdleCPU) / n
		r.HeapPerViewer = (float64(heap) - float64(h.heapBefore)) / n
		r.RSSPerViewer = (float64(rss) - float64(h.rssBefore)) / n
	}
	return r, nil
}

// Table prints the figures for people.
func (r *Result) Table() string {
	var b strings.Builder
	row := func(k, f string, a ...any) { fmt.Fprintf(&b, "%-34s %s\n", k, fmt.Sprintf(f, a...)) }
	row("cameras × viewers", "%d × %d (%d kbps H.264 + Opus each)", r.Cameras, r.Viewers, r.BitrateKbps)
	row("window", "%.1f s", r.Seconds)
	row("server CPU", "%.1f%% of one core (%.1f%% with no viewer)", 100*r.ServerCPU, 100*r.ServerIdleCPU)
	row("server CPU per viewer", "%.3f%% of one core", r.CPUPerViewer)
	row("server CPU per packet sent", "%.2f µs", r.CPUPerPacket)
	row("server memory per viewer", "%.0f KiB heap+stacks, %.0f KiB RSS", r.HeapPerViewer/1024, r.RSSPerViewer/1024)
	row("frames per second (video+audio)", "%.1f (server kept up: %v)", r.FramesPerSecond, r.KeptUp)
	row("packets sent / received / lost", "%d / %d (%d audio) / %d", r.PacketsSent, r.PacketsReceived, r.AudioReceived, r.PacketsLost)
	row("viewers that got nothing", "%d (%d without both tracks)", r.ViewersStarved, r.ViewersNoTracks)
	if r.Syscalls > 0 {
		row("UDP datagrams per sendmmsg", "%.1f", float64(r.Datagrams)/float64(r.Syscalls))
	}
	if r.LoadGenSeparate {
		row("load generator CPU (own process)", "%.1f%% of one core", 100*r.LoadGenCPU)
	} else {
		row("load generator CPU", "in-process: included in server CPU")
	}
	return b.String()
}

// memory is the server's Go heap and stacks in use, and its resident set.
func memory() (heap, rss uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	heap = m.HeapInuse + m.StackInuse
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				rss = kb * 1024
			}
		}
	}
	return heap, rss
}

// ProcessCPU is this process's CPU time so far, in seconds (benchmarks
// that run the server in process).
func ProcessCPU() float64 { return processCPU() }

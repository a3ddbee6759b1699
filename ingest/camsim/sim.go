package camsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"diemcau/pipeline/gst"
)

// Sim is a camsim server.
type Sim struct {
	cfg  Config
	log  *slog.Logger
	cams []*camera

	ready chan struct{}
	addr  atomic.Value // string, once listening
	ran   atomic.Bool
}

// New validates cfg and allocates the cameras; it starts nothing.
func New(cfg Config, log *slog.Logger) (*Sim, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("camsim: %w", err)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sim{cfg: cfg, log: log.With("component", "camsim"), ready: make(chan struct{})}
	for i := range cfg.Cameras {
		c := newCamera(fmt.Sprintf("cam%d", i+1), s.log)
		c.num = i + 1
		s.cams = append(s.cams, c)
	}
	if cfg.SubWidth > 0 {
		for i := range cfg.Cameras {
			c := newCamera(fmt.Sprintf("cam%d/sub", i+1), s.log)
			c.num, c.sub = i+1, true
			s.cams = append(s.cams, c)
		}
	}
	return s, nil
}

// Ready is closed once the server listens and every camera can be read.
func (s *Sim) Ready() <-chan struct{} { return s.ready }

// Addr is the bound RTSP address (host:port), empty before Ready.
func (s *Sim) Addr() string {
	a, _ := s.addr.Load().(string)
	return a
}

// URL is the RTSP URL of camera i (1-based) on the bound address, without
// credentials.
func (s *Sim) URL(i int) string { return fmt.Sprintf("rtsp://%s/cam%d", s.Addr(), i) }

// SubURL is the RTSP URL of camera i's sub-stream (Config.SubWidth).
func (s *Sim) SubURL(i int) string { return fmt.Sprintf("rtsp://%s/cam%d/sub", s.Addr(), i) }

// SetFault injects (or with FaultNone clears) a fault on camera i (1-based);
// i = 0 means every camera.
func (s *Sim) SetFault(i int, f Fault) error {
	if i < 0 || i > len(s.cams) {
		return fmt.Errorf("camsim: no camera %d (have %d)", i, len(s.cams))
	}
	for _, c := range s.cams {
		if i == 0 || i == c.num {
			c.setFault(f) // the camera's sub-stream too
		}
	}
	return nil
}

// Stats counts the packets sent and the sessions playing, all cameras together.
type Stats struct {
	Packets uint64
	Readers int
}

// Stats returns the counters.
func (s *Sim) Stats() Stats {
	var st Stats
	for _, c := range s.cams {
		st.Packets += c.packets.Load()
		c.mu.Lock()
		st.Readers += c.readers
		c.mu.Unlock()
	}
	return st
}

// Run (once) serves until ctx ends, then closes every session and returns after
// everything it started has stopped.
func (s *Sim) Run(ctx context.Context) error {
	if s.ran.Swap(true) {
		return errors.New("camsim: Run called twice")
	}
	var loop, subLoop *PacketLoop
	if !s.cfg.Live {
		var err error
		if loop, err = s.encodeLoop(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if s.cfg.SubWidth > 0 {
			if subLoop, err = s.encodeSubLoop(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}

	srv := &gortsplib.Server{
		Handler:        &handler{sim: s},
		RTSPAddress:    s.cfg.Listen,
		UDPRTPAddress:  s.cfg.UDPRTPAddress,
		UDPRTCPAddress: s.cfg.UDPRTCPAddress,
		WriteQueueSize: 1024, // a 720p IDR is ~100 packets; leave room for several
		// The cameras send their own (reports.go).
		DisableRTCPSenderReports: true,
		Listen: func(network, address string) (net.Listener, error) {
			l, err := net.Listen(network, address)
			if err == nil {
				s.addr.Store(l.Addr().String())
			}
			return l, err
		},
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("camsim: listen on %s: %w", s.cfg.Listen, err)
	}
	errs := make(chan error, len(s.cams)+1)
	var serving sync.WaitGroup
	serving.Add(1)
	go func() {
		defer serving.Done()
		if err := srv.Wait(); err != nil && ctx.Err() == nil {
			errs <- fmt.Errorf("camsim: server: %w", err)
		}
	}()

	// Senders stop first, so none publishes a stream after the cameras
	// closed theirs; then the server goes.
	ctx, cancel := context.WithCancel(ctx)
	var senders sync.WaitGroup
	defer func() {
		cancel()
		senders.Wait()
		for _, c := range s.cams {
			c.close()
		}
		srv.Close()
		serving.Wait()
	}()

	start := time.Now()
	for _, c := range s.cams {
		senders.Add(1)
		go func() {
			defer senders.Done()
			c.report(ctx)
		}()
	}
	for i, c := range s.cams {
		if loop != nil {
			loop := loop
			if c.sub {
				loop = subLoop
			}
			if err := c.publish(srv, loop.Description); err != nil {
				return err
			}
			snd := &loopSender{
				cam: c, loop: loop, audio: loop.AudioFor(c.num - 1),
				// Stagger the cameras across one frame so their bursts do not coincide.
				epoch: start.Add(time.Duration(i) * loop.Video.Time(1) / time.Duration(len(s.cams))),
				rng:   rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i))),
			}
			if loop.Period > 0 {
				// A pattern's flashes leave at known wall-clock times, the
				// cameras in turn (see PatternPhase).
				snd.epoch = patternEpoch(start, i+1, len(s.cams))
			}
			senders.Add(1)
			go func() {
				defer senders.Done()
				snd.run(ctx)
			}()
			continue
		}
		senders.Add(1)
		go func() {
			defer senders.Done()
			if err := s.runLive(ctx, srv, c); err != nil && ctx.Err() == nil {
				errs <- err
			}
		}()
	}
	if s.cfg.Live {
		if err := s.waitLive(ctx, errs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	s.scheduleFaults(ctx, &senders)
	close(s.ready)
	s.log.Info("cameras ready", "addr", s.Addr(), "cameras", len(s.cams),
		"size", fmt.Sprintf("%dx%d", s.cfg.Width, s.cfg.Height), "fps", s.cfg.FPS,
		"bitrate_kbps", s.cfg.BitrateKbps, "audio", s.cfg.Audio, "live", s.cfg.Live, "pattern", s.cfg.Pattern)

	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return err
	}
}

// encodeSubLoop is the sub-streams' loop: the same picture, smaller, at
// a third of the bitrate, without sound.
func (s *Sim) encodeSubLoop(ctx context.Context) (*PacketLoop, error) {
	lc := gst.LoopConfig{
		TestPicture: gst.TestPicture{
			Width: s.cfg.SubWidth, Height: s.cfg.SubHeight, FPS: s.cfg.FPS,
			Label: fmt.Sprintf("camsim sub %dx%d %d fps", s.cfg.SubWidth, s.cfg.SubHeight, s.cfg.FPS),
		},
		BitrateKbps: max(100, s.cfg.BitrateKbps/3),
		Seconds:     s.cfg.LoopSeconds,
	}
	if !gst.HasElement("textoverlay") {
		lc.Label = ""
	}
	l, err := gst.EncodeLoop(ctx, lc, s.log)
	if err != nil {
		return nil, fmt.Errorf("camsim: sub-stream: %w", err)
	}
	return NewPacketLoop(l, s.cfg.MTU)
}

func (s *Sim) encodeLoop(ctx context.Context) (*PacketLoop, error) {
	lc := gst.LoopConfig{
		TestPicture: gst.TestPicture{
			Width: s.cfg.Width, Height: s.cfg.Height, FPS: s.cfg.FPS,
			Label: fmt.Sprintf("camsim %dx%d %d fps", s.cfg.Width, s.cfg.Height, s.cfg.FPS),
		},
		BitrateKbps: s.cfg.BitrateKbps,
		Seconds:     s.cfg.LoopSeconds,
	}
	if !gst.HasElement("textoverlay") {
		lc.Label = "" // pango plugin missing: a plain picture still serves
	}
	if s.cfg.Audio {
		lc.Audio = gst.AudioCodec(s.cfg.AudioCodec)
	}
	if s.cfg.Pattern != "" {
		lc.Pattern, lc.AudioFreq = s.cfg.Pattern, PatternToneHz(1)
		lc.Label = fmt.Sprintf("camsim %s %dx%d %d fps", s.cfg.Pattern, s.cfg.Width, s.cfg.Height, s.cfg.FPS)
	}
	l, err := gst.EncodeLoop(ctx, lc, s.log)
	if err != nil {
		return nil, fmt.Errorf("camsim: %w", err)
	}
	pl, err := NewPacketLoop(l, s.cfg.MTU)
	if err != nil {
		return nil, err
	}
	if s.cfg.Pattern != "" {
		pl.Period = s.cfg.FPS
		if err := s.encodeTones(ctx, lc, pl); err != nil {
			return nil, err
		}
	}
	return pl, nil
}

func (s *Sim) runLive(ctx context.Context, srv *gortsplib.Server, c *camera) error {
	snd := &liveSender{
		cam: c, server: srv, mtu: s.cfg.MTU, wantAudio: s.cfg.Audio,
		tsVideo: rand.Uint32(), tsAudio: rand.Uint32(),
	}
	lc := gst.LiveConfig{
		TestPicture: gst.TestPicture{Width: s.cfg.Width, Height: s.cfg.Height, FPS: s.cfg.FPS, Label: c.name, Clock: true},
		BitrateKbps: s.cfg.BitrateKbps,
	}
	if s.cfg.Audio {
		lc.Audio = gst.AudioCodec(s.cfg.AudioCodec)
	}
	enc, err := gst.NewLiveEncoder(lc, s.log, snd.onFrame)
	if err != nil {
		return fmt.Errorf("camsim %s: %w", c.name, err)
	}
	return enc.Run(ctx)
}

// waitLive waits until every live camera has published its stream.
func (s *Sim) waitLive(ctx context.Context, errs chan error) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n := 0
		for _, c := range s.cams {
			if c.currentStream() != nil {
				n++
			}
		}
		if n == len(s.cams) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errs:
			return err
		case <-tick.C:
		}
	}
}

// scheduleFaults applies DropAfter and StallAfter to every camera.
func (s *Sim) scheduleFaults(ctx context.Context, wg *sync.WaitGroup) {
	for _, f := range []struct {
		after time.Duration
		fault Fault
	}{{s.cfg.StallAfter, FaultStall}, {s.cfg.DropAfter, FaultDrop}} {
		if f.after <= 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTimer(f.after)
			defer t.Stop()
			select {
			case <-ctx.Done():
			case <-t.C:
				_ = s.SetFault(0, f.fault)
			}
		}()
	}
}

// camera returns the camera a request path names ("/cam3"), or nil.
func (s *Sim) camera(path string) *camera {
	name := strings.Trim(path, "/")
	for _, c := range s.cams {
		if c.name == name {
			return c
		}
	}
	return nil
}

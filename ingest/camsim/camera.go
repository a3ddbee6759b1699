package camsim

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
)

// Fault is a camera failure injected for tests.
type Fault int32

// Faults.
const (
	FaultNone  Fault = iota
	FaultDrop        // sessions closed, new ones refused
	FaultStall       // connections kept, no packets
)

func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultDrop:
		return "drop"
	case FaultStall:
		return "stall"
	}
	return fmt.Sprintf("fault(%d)", int32(f))
}

// camera is one path. Its stream is created once the media are known (loop
// encoded or, live, the first IDR) and replaced after a drop.
type camera struct {
	name string // "cam1", or "cam1/sub" for its sub-stream
	num  int    // 1-based camera number, the same for a camera's sub-stream
	sub  bool
	log  *slog.Logger

	mu      sync.Mutex
	server  *gortsplib.Server
	desc    func() *description.Session
	stream  *gortsplib.ServerStream // nil: not ready, or dropped
	reports streamReports           // the stream's sender reports (reports.go)
	readers int                     // sessions playing
	fault   Fault

	active atomic.Bool   // readers > 0, no fault, stream set: packets are wanted
	wake   chan struct{} // nudges the sender when active may have changed

	writeErrors atomic.Uint64
	packets     atomic.Uint64
}

func newCamera(name string, log *slog.Logger) *camera {
	return &camera{name: name, log: log.With("camera", name), wake: make(chan struct{}, 1)}
}

// publish makes the camera's stream from desc (called again on restore).
func (c *camera) publish(server *gortsplib.Server, desc func() *description.Session) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.server, c.desc = server, desc
	if c.fault == FaultDrop {
		return nil
	}
	return c.openStreamLocked()
}

func (c *camera) openStreamLocked() error {
	st := &gortsplib.ServerStream{Server: c.server, Desc: c.desc()}
	if err := st.Initialize(); err != nil {
		return fmt.Errorf("camsim %s: stream: %w", c.name, err)
	}
	c.stream = st
	c.reports = newStreamReports(st.Desc)
	c.updateLocked()
	return nil
}

// currentStream is the stream to describe or set up, nil if there is none.
func (c *camera) currentStream() *gortsplib.ServerStream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stream
}

// setFault applies a fault: a drop closes the stream, which closes every
// session on it; FaultNone after a drop opens a new stream.
func (c *camera) setFault(f Fault) {
	c.mu.Lock()
	prev := c.fault
	c.fault = f
	var closing *gortsplib.ServerStream
	if f == FaultDrop && c.stream != nil {
		closing, c.stream = c.stream, nil
	}
	if prev == FaultDrop && f != FaultDrop && c.stream == nil && c.desc != nil {
		if err := c.openStreamLocked(); err != nil {
			c.log.Error("restore after drop", "error", err)
		}
	}
	c.updateLocked()
	c.mu.Unlock()
	if closing != nil {
		closing.Close() // outside the lock: closing sessions calls back into the handler
	}
	if f != prev {
		c.log.Info("fault", "fault", f.String())
	}
}

func (c *camera) readerStarted() {
	c.mu.Lock()
	c.readers++
	c.updateLocked()
	c.mu.Unlock()
}

func (c *camera) readerStopped() {
	c.mu.Lock()
	c.readers--
	c.updateLocked()
	c.mu.Unlock()
}

func (c *camera) updateLocked() {
	on := c.readers > 0 && c.fault == FaultNone && c.stream != nil
	if c.active.Swap(on) != on {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// countWrite counts a frame's packets, or a failed write: per-packet errors
// are summarised at close, never logged one by one.
func (c *camera) countWrite(n int, err error) {
	if err != nil {
		c.writeErrors.Add(1)
		return
	}
	c.packets.Add(uint64(n))
}

// close ends the stream at shutdown.
func (c *camera) close() {
	c.mu.Lock()
	st := c.stream
	c.stream = nil
	c.active.Store(false)
	c.mu.Unlock()
	if st != nil {
		st.Close()
	}
	if n := c.writeErrors.Load(); n > 0 {
		c.log.Warn("packets not sent", "bursts", n)
	}
}

// resumeDelay is how long after a reader's PLAY an idle camera starts.
const resumeDelay = 100 * time.Millisecond

// loopSender replays a PacketLoop for one camera. It sleeps while nobody
// watches, so an unwatched camera costs no CPU, and follows the wall clock,
// so its timestamps continue across loop iterations and idle spells.
type loopSender struct {
	cam   *camera
	loop  *PacketLoop
	audio *LoopTrack // this camera's sound: loop.Audio, or its own tone
	epoch time.Time  // the camera's time zero; cameras are staggered
	rng   *rand.Rand
}

func (s *loopSender) run(ctx context.Context) {
	pl := s.loop
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var video, audio *Replayer
	var nv, na int64
	var stream *gortsplib.ServerStream

	for {
		if !s.cam.active.Load() {
			select {
			case <-ctx.Done():
				return
			case <-s.cam.wake:
			}
			stream = nil
			continue
		}
		if stream == nil {
			// (Re)start: new stream or back from idle. Frame numbers follow
			// the wall clock; the picture restarts at a GOP so a reader that
			// just joined gets an IDR at once.
			stream = s.cam.currentStream()
			if stream == nil {
				continue
			}
			medias := stream.Desc.Medias
			// The reader that woke us becomes active in gortsplib just after
			// OnPlay returns; starting a little later keeps the IDR for it.
			t := time.Since(s.epoch) + resumeDelay
			nv = pl.Video.FrameAt(t)
			if video == nil {
				var shift int64
				if pl.Period == 0 {
					shift = s.rng.Int64N(int64(len(pl.Video.Frames)))
				}
				video = NewReplayer(pl.Video, medias[0], s.rng.Uint32(), uint16(s.rng.Uint32()), shift)
			}
			video.media = medias[0]
			if pl.Period > 0 {
				// A pattern keeps its phase on the media clock: start on the
				// next period, which begins with an IDR.
				nv = (nv + int64(pl.Period) - 1) / int64(pl.Period) * int64(pl.Period)
			} else {
				video.AlignToKeyframe(nv, pl.GOP)
			}
			if s.audio != nil {
				na = s.audio.FrameAt(t)
				if audio == nil {
					audio = NewReplayer(s.audio, medias[1], s.rng.Uint32(), uint16(s.rng.Uint32()), 0)
				}
				audio.media = medias[1]
			}
		}

		next := s.epoch.Add(pl.Video.Time(nv))
		if audio != nil {
			if at := s.epoch.Add(s.audio.Time(na)); at.Before(next) {
				next = at
			}
		}
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-s.cam.wake:
				timer.Stop() // Go ≥ 1.23: no stale tick to drain
				if s.cam.currentStream() != stream {
					stream = nil
				}
				continue
			case <-timer.C:
			}
		}

		now := time.Since(s.epoch)
		for pl.Video.Time(nv) <= now {
			s.cam.countWrite(video.WriteFrame(s.cam.writer(stream), nv, s.epoch.Add(pl.Video.Time(nv))))
			nv++
		}
		for audio != nil && s.audio.Time(na) <= now {
			s.cam.countWrite(audio.WriteFrame(s.cam.writer(stream), na, s.epoch.Add(s.audio.Time(na))))
			na++
		}
	}
}

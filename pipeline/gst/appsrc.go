package gst

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"
)

// DefaultSourceMaxBytes bounds an appsrc's queue when SourceConfig.MaxBytes is 0.
const DefaultSourceMaxBytes = 4 << 20

// SourceConfig configures one appsrc. The element is always live with
// format=time: Go stamps buffers and the pipeline runs on the clock.
type SourceConfig struct {
	// Name is the element's name in the launch string (appsrc name=…).
	Name string
	// Caps of the buffers pushed, e.g. "video/x-h264,stream-format=byte-stream,alignment=au".
	Caps string
	// MaxBytes is the queue inside appsrc. Default DefaultSourceMaxBytes.
	MaxBytes uint64
}

// AppSource pushes Go buffers into a running pipeline. It drops a buffer
// (counted) rather than block when the pipeline falls behind. Safe for use
// from one writer goroutine at a time.
type AppSource struct {
	cfg SourceConfig

	mu      sync.Mutex
	src     *app.Source
	dropped atomic.Uint64
	pushed  atomic.Uint64
}

func newAppSource(cfg SourceConfig) *AppSource {
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultSourceMaxBytes
	}
	return &AppSource{cfg: cfg}
}

func (a *AppSource) attach(src *app.Source) error {
	if a.cfg.Caps != "" {
		caps := gst.NewCapsFromString(a.cfg.Caps)
		if caps == nil {
			return errors.New("caps: cannot parse " + a.cfg.Caps)
		}
		src.SetCaps(caps)
	}
	setArg(src.Element, "is-live", "true")
	setArg(src.Element, "block", "false")
	setArg(src.Element, "format", "time")
	src.SetMaxBytes(a.cfg.MaxBytes)
	a.mu.Lock()
	a.src = src
	a.mu.Unlock()
	return nil
}

func (a *AppSource) detach() {
	a.mu.Lock()
	a.src = nil
	a.mu.Unlock()
}

// Push copies data into a buffer stamped pts/dur (-1: none) and queues it.
// It reports false when the buffer was dropped: pipeline not running, or its
// queue over three quarters full (Go drops before GStreamer has to).
func (a *AppSource) Push(data []byte, pts, dur time.Duration) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.src == nil || len(data) == 0 {
		a.dropped.Add(1)
		return false
	}
	if a.src.GetCurrentLevelBytes() > a.cfg.MaxBytes/4*3 {
		a.dropped.Add(1)
		return false
	}
	buf := gst.NewBufferFromBytes(data)
	if pts >= 0 {
		buf.SetPresentationTimestamp(gst.ClockTime(pts))
	}
	if dur >= 0 {
		buf.SetDuration(gst.ClockTime(dur))
	}
	if ret := a.src.PushBuffer(buf); ret != gst.FlowOK {
		a.dropped.Add(1)
		return false
	}
	a.pushed.Add(1)
	return true
}

// EndOfStream tells the pipeline no more buffers will come.
func (a *AppSource) EndOfStream() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.src != nil {
		a.src.EndStream()
	}
}

// Counts returns the buffers pushed and dropped so far.
func (a *AppSource) Counts() (pushed, dropped uint64) {
	return a.pushed.Load(), a.dropped.Load()
}

package gst

import (
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"
)

// DefaultSinkBuffers is the appsink queue when SinkConfig.MaxBuffers is 0.
const DefaultSinkBuffers = 16

// pullTimeout is how long one pull waits, so a pull goroutine notices the end
// of the run without a signal from GStreamer.
const pullTimeout = 100 * time.Millisecond

// SinkConfig configures one appsink.
type SinkConfig struct {
	// Name is the element's name in the launch string (appsink name=…).
	Name string
	// MaxBuffers is how many samples the appsink queues for Go. Default
	// DefaultSinkBuffers.
	MaxBuffers uint
	// Lossless makes upstream wait for Go instead of dropping the oldest
	// sample when the queue is full. Only for offline work (EncodeLoop), where
	// every frame is wanted and nothing is live; live pipelines drop.
	Lossless bool
	// OnSample receives each sample, on the sink's pull goroutine (not a
	// GStreamer streaming thread). It may keep the Sample.
	OnSample func(Sample)
}

// Sample is one buffer of an appsink, copied into Go memory.
type Sample struct {
	Data []byte
	// PTS, DTS and Duration are on the pipeline's running time; -1 when the
	// buffer has none.
	PTS, DTS, Duration time.Duration
	// Key is false for a buffer that cannot be decoded on its own
	// (GST_BUFFER_FLAG_DELTA_UNIT).
	Key bool
	// Caps is the caps string, set on the first sample and whenever the caps
	// change; empty otherwise.
	Caps string
}

func configureSink(sink *app.Sink, sc SinkConfig) {
	n := sc.MaxBuffers
	if n == 0 {
		n = DefaultSinkBuffers
	}
	sink.SetMaxBuffers(n)
	sink.SetDrop(!sc.Lossless)
	sink.SetEmitSignals(false)
}

// pullSamples pulls until the sink reaches EOS or the run stops. Pulling
// from our own goroutine keeps Go code off GStreamer's streaming threads.
func pullSamples(sink *app.Sink, sc SinkConfig, stopping *atomic.Bool) {
	var lastCaps unsafe.Pointer
	for {
		s := sink.TryPullSample(gst.ClockTime(pullTimeout))
		if s == nil {
			if stopping.Load() || sink.IsEOS() {
				return
			}
			continue
		}
		if out, ok := copySample(s, &lastCaps); ok {
			sc.OnSample(out)
		}
	}
}

// copySample copies the buffer's bytes and unmaps before returning; the
// GstSample itself is released by its finalizer (no hand Unref).
func copySample(s *gst.Sample, lastCaps *unsafe.Pointer) (Sample, bool) {
	buf := s.GetBuffer()
	if buf == nil {
		return Sample{}, false
	}
	mi := buf.Map(gst.MapRead)
	if mi == nil || mi.Data() == nil {
		return Sample{}, false
	}
	data := mi.Bytes() // C.GoBytes: a copy in Go memory
	buf.Unmap()

	out := Sample{
		Data:     data,
		PTS:      clockToDuration(buf.PresentationTimestamp()),
		DTS:      clockToDuration(buf.DecodingTimestamp()),
		Duration: clockToDuration(buf.Duration()),
		Key:      buf.GetFlags()&gst.BufferFlagDeltaUnit == 0,
	}
	if caps := s.GetCaps(); caps != nil && caps.Unsafe() != *lastCaps {
		*lastCaps = caps.Unsafe()
		out.Caps = caps.String()
	}
	return out, true
}

func clockToDuration(t gst.ClockTime) time.Duration {
	if t == gst.ClockTimeNone {
		return -1
	}
	return time.Duration(t)
}

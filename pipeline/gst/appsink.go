package gst

/*
#cgo pkg-config: gstreamer-1.0 gstreamer-app-1.0
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <gst/gst.h>
#include <gst/app/gstappsink.h>

// sink_notify writes to the eventfd an appsink's callbacks were given: one
// syscall on the streaming thread, no Go. The Go side waits on its own dup
// of the eventfd in the netpoller.
static void sink_notify(gpointer data) {
	uint64_t one = 1;
	ssize_t r;
	do {
		r = write(GPOINTER_TO_INT(data), &one, sizeof one);
	} while (r < 0 && errno == EINTR);
}

static GstFlowReturn sink_on_sample(GstAppSink *sink, gpointer data) {
	sink_notify(data);
	return GST_FLOW_OK;
}

static void sink_on_eos(GstAppSink *sink, gpointer data) { sink_notify(data); }

// sink_close_notify closes the callbacks' eventfd once GStreamer drops the
// callbacks (replaced, or the appsink finalized): no callback can write to
// a closed (or reused) descriptor.
static void sink_close_notify(gpointer data) { close(GPOINTER_TO_INT(data)); }

// sink_watch makes the appsink signal an eventfd on every new sample and at
// EOS; it returns a duplicate for the caller to wait on (and close), or -1.
static int sink_watch(GstElement *sink) {
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return -1;
	int mine = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (mine < 0) {
		close(fd);
		return -1;
	}
	GstAppSinkCallbacks cb = {0};
	cb.new_sample = sink_on_sample;
	cb.eos = sink_on_eos;
	gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cb, GINT_TO_POINTER(fd), sink_close_notify);
	return mine;
}

// sink_pulled is one sample taken from an appsink, mapped for reading.
typedef struct {
	GstSample *sample;
	GstBuffer *buffer;
	GstMapInfo map;
	gboolean mapped;
	GstClockTime pts, dts, dur;
	gboolean delta;
	GstCaps *caps; // borrowed from the sample
} sink_pulled;

// sink_running_time maps a buffer time to running time through the
// sample's segment. Buffer times alone are not comparable across branches:
// x264enc, for one, moves its output 1000 hours ahead (a minimum PTS so that
// DTS never goes negative) and shifts its segment to match, so only running
// time puts the encoded pictures on the same timeline as the audio mixed
// beside them. A time before the segment's start clamps to 0.
static GstClockTime sink_running_time(const GstSegment *seg, GstClockTime t) {
	if (!GST_CLOCK_TIME_IS_VALID(t) || seg == NULL || seg->format != GST_FORMAT_TIME)
		return t;
	guint64 rt = 0;
	int sign = gst_segment_to_running_time_full(seg, GST_FORMAT_TIME, t, &rt);
	return sign > 0 ? rt : 0;
}

// sink_pull takes the next sample without waiting; FALSE when none.
// sink_release must follow a TRUE.
static gboolean sink_pull(GstElement *sink, sink_pulled *p) {
	GstSample *s = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 0);
	if (s == NULL)
		return FALSE;
	memset(p, 0, sizeof *p);
	p->sample = s;
	p->caps = gst_sample_get_caps(s);
	p->buffer = gst_sample_get_buffer(s);
	if (p->buffer != NULL) {
		p->mapped = gst_buffer_map(p->buffer, &p->map, GST_MAP_READ);
		GstSegment *seg = gst_sample_get_segment(s);
		p->pts = sink_running_time(seg, GST_BUFFER_PTS(p->buffer));
		p->dts = sink_running_time(seg, GST_BUFFER_DTS(p->buffer));
		p->dur = GST_BUFFER_DURATION(p->buffer);
		p->delta = GST_BUFFER_FLAG_IS_SET(p->buffer, GST_BUFFER_FLAG_DELTA_UNIT);
	}
	return TRUE;
}

static void sink_release(sink_pulled *p) {
	if (p->mapped)
		gst_buffer_unmap(p->buffer, &p->map);
	gst_sample_unref(p->sample);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-gst/go-gst/gst/app"
)

// DefaultSinkBuffers is the appsink queue when SinkConfig.MaxBuffers is 0.
const DefaultSinkBuffers = 16

// pullTimeout is how long one wait for a sample lasts, so a pull goroutine
// notices the end of the run without a signal from GStreamer.
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

func cSink(sink *app.Sink) *C.GstElement { return (*C.GstElement)(unsafe.Pointer(sink.Unsafe())) }

// sinkWaiter wakes a pull goroutine when its appsink has a sample (or
// EOS). The goroutine waits in Go's netpoller, not in a blocking cgo call:
// a goroutine blocked in C for longer than 10 ms makes the Go scheduler's
// monitor take its P away and then poll every 20 µs for the next
// millisecond, which at 30 pictures a second cost more CPU than the pull
// itself.
type sinkWaiter struct {
	f *os.File
}

func newSinkWaiter(sink *app.Sink) (*sinkWaiter, error) {
	fd := C.sink_watch(cSink(sink))
	if fd < 0 {
		return nil, errors.New("appsink: no eventfd")
	}
	f := os.NewFile(uintptr(fd), "appsink-notify")
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		// Not in the netpoller: a read would not wait.
		_ = f.Close()
		return nil, fmt.Errorf("appsink: eventfd not pollable: %w", err)
	}
	return &sinkWaiter{f: f}, nil
}

// wait returns once a sample or EOS was signalled, or after timeout.
func (w *sinkWaiter) wait(timeout time.Duration) {
	var b [8]byte
	_ = w.f.SetReadDeadline(time.Now().Add(timeout))
	_, _ = w.f.Read(b[:])
}

func (w *sinkWaiter) close() { _ = w.f.Close() }

// pullSamples pulls until the sink reaches EOS or the run stops. Pulling
// from our own goroutine keeps Go code off GStreamer's streaming threads.
func pullSamples(sink *app.Sink, sc SinkConfig, stopping *atomic.Bool) {
	w, err := newSinkWaiter(sink)
	if err != nil {
		pullSamplesPolling(sink, sc, stopping)
		return
	}
	defer w.close()
	var caps capsMemo
	defer caps.release()
	for {
		// Drain first: samples may have queued before the waiter existed.
		for {
			out, ok := pullSample(sink, &caps)
			if !ok {
				break
			}
			sc.OnSample(out)
		}
		if stopping.Load() || sink.IsEOS() {
			return
		}
		w.wait(pullTimeout)
	}
}

// pullSamplesPolling is pullSamples without an eventfd: it polls.
func pullSamplesPolling(sink *app.Sink, sc SinkConfig, stopping *atomic.Bool) {
	var caps capsMemo
	defer caps.release()
	for {
		if out, ok := pullSample(sink, &caps); ok {
			sc.OnSample(out)
			continue
		}
		if stopping.Load() || sink.IsEOS() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pullSample takes the next sample without waiting and copies it into Go
// memory; the GstSample is unmapped and released in C before it returns
// (two cgo calls, no Go wrapper objects and so no finalizers per sample).
// false when the sink holds none. A sample without a buffer is skipped.
func pullSample(sink *app.Sink, caps *capsMemo) (Sample, bool) {
	for {
		var p C.sink_pulled
		if C.sink_pull(cSink(sink), &p) == 0 {
			return Sample{}, false
		}
		out, ok := copyPulled(&p, caps)
		C.sink_release(&p)
		if ok {
			return out, true
		}
	}
}

func copyPulled(p *C.sink_pulled, caps *capsMemo) (Sample, bool) {
	if p.buffer == nil || p.mapped == 0 || p._map.data == nil {
		return Sample{}, false
	}
	data := make([]byte, int(p._map.size))
	copy(data, unsafe.Slice((*byte)(unsafe.Pointer(p._map.data)), len(data)))
	out := Sample{
		Data:     data,
		PTS:      cDuration(p.pts),
		DTS:      cDuration(p.dts),
		Duration: cDuration(p.dur),
		Key:      p.delta == 0,
	}
	out.Caps = caps.changed(p.caps)
	return out, true
}

// capsMemo remembers the last caps seen (holding a reference, so that a
// new caps cannot reuse its address), to report changes only.
type capsMemo struct{ last *C.GstCaps }

// changed is the caps string when c differs from the last caps; "" when not.
func (m *capsMemo) changed(c *C.GstCaps) string {
	if c == nil || c == m.last {
		return ""
	}
	m.release()
	m.last = C.gst_caps_ref(c)
	s := C.gst_caps_to_string(c)
	defer C.g_free(C.gpointer(s))
	return C.GoString(s)
}

func (m *capsMemo) release() {
	if m.last != nil {
		C.gst_caps_unref(m.last)
		m.last = nil
	}
}

func cDuration(t C.GstClockTime) time.Duration {
	if t == C.GstClockTime(C.G_MAXUINT64) {
		return -1
	}
	return time.Duration(t)
}

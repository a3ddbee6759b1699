package gst

/*
#cgo pkg-config: gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

// mix_push_bytes copies data into a new buffer and queues it in appsrc
// (which takes the only reference): the memory is freed as soon as the
// decoder is done with it, not when a Go finalizer runs. Returns 1 when
// queued, 0 when the queue already holds more than max_bytes, -1 when
// appsrc refused it (flushing, stopped).
static int mix_push_bytes(GstElement *src, const void *data, gsize len,
		GstClockTime pts, GstClockTime dts, GstClockTime dur, gboolean delta, guint64 max_bytes) {
	GstAppSrc *app = GST_APP_SRC(src);
	if (max_bytes > 0 && gst_app_src_get_current_level_bytes(app) > max_bytes)
		return 0;
	GstBuffer *b = gst_buffer_new_allocate(NULL, len, NULL);
	if (b == NULL)
		return -1;
	gst_buffer_fill(b, 0, data, len);
	GST_BUFFER_PTS(b) = pts;
	GST_BUFFER_DTS(b) = dts;
	GST_BUFFER_DURATION(b) = dur;
	if (delta)
		GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
	return gst_app_src_push_buffer(app, b) == GST_FLOW_OK ? 1 : -1;
}

// mix_raw hands each composite picture from the composite's appsink to the
// current encoder of each rendition (the main one, and a low one when the
// session has it), by reference and without Go: a C callback on the
// compositor's streaming thread that only queues the buffer, or drops it
// when there is no encoder or the encoder is behind (it never waits). Every
// rendition gets the same buffer: the same picture, the same time.
#define MIX_RENDITIONS 2
typedef struct {
	GMutex lock;
	GstElement *src[MIX_RENDITIONS];   // each encoder's appsrc, a reference; NULL without one
	guint64 max_bytes[MIX_RENDITIONS]; // drop above this much queued in src
	guint64 frames, dropped;           // dropped: by the main rendition
	guint64 low_dropped;
} mix_raw;

static GstFlowReturn mix_raw_new_sample(GstAppSink *sink, gpointer data) {
	mix_raw *r = data;
	GstSample *s = gst_app_sink_pull_sample(sink);
	if (s == NULL)
		return GST_FLOW_OK;
	__atomic_add_fetch(&r->frames, 1, __ATOMIC_RELAXED);
	gboolean queued[MIX_RENDITIONS] = {FALSE};
	gboolean wanted[MIX_RENDITIONS] = {FALSE};
	GstBuffer *b = gst_sample_get_buffer(s);
	g_mutex_lock(&r->lock);
	for (int i = 0; i < MIX_RENDITIONS; i++) {
		wanted[i] = r->src[i] != NULL;
		if (b == NULL || r->src[i] == NULL)
			continue;
		GstAppSrc *app = GST_APP_SRC(r->src[i]);
		if (gst_app_src_get_current_level_bytes(app) <= r->max_bytes[i])
			queued[i] = gst_app_src_push_buffer(app, gst_buffer_ref(b)) == GST_FLOW_OK;
	}
	g_mutex_unlock(&r->lock);
	if (!queued[0])
		__atomic_add_fetch(&r->dropped, 1, __ATOMIC_RELAXED);
	if (wanted[1] && !queued[1])
		__atomic_add_fetch(&r->low_dropped, 1, __ATOMIC_RELAXED);
	gst_sample_unref(s);
	return GST_FLOW_OK;
}

static mix_raw *mix_raw_attach(GstElement *sink) {
	mix_raw *r = g_new0(mix_raw, 1);
	g_mutex_init(&r->lock);
	GstAppSinkCallbacks cb = {0};
	cb.new_sample = mix_raw_new_sample;
	gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cb, r, NULL);
	return r;
}

static void mix_raw_set(mix_raw *r, int i, GstElement *src, guint64 max_bytes) {
	if (i < 0 || i >= MIX_RENDITIONS)
		return;
	g_mutex_lock(&r->lock);
	GstElement *old = r->src[i];
	r->src[i] = src ? gst_object_ref(src) : NULL;
	r->max_bytes[i] = max_bytes;
	g_mutex_unlock(&r->lock);
	if (old)
		gst_object_unref(old);
}

static guint64 mix_raw_frames(mix_raw *r) { return __atomic_load_n(&r->frames, __ATOMIC_RELAXED); }
static guint64 mix_raw_dropped(mix_raw *r) { return __atomic_load_n(&r->dropped, __ATOMIC_RELAXED); }
static guint64 mix_raw_low_dropped(mix_raw *r) { return __atomic_load_n(&r->low_dropped, __ATOMIC_RELAXED); }

// mix_raw_free must follow the appsink's stop (NULL): no callback runs then.
static void mix_raw_free(mix_raw *r) {
	for (int i = 0; i < MIX_RENDITIONS; i++)
		mix_raw_set(r, i, NULL, 0);
	g_mutex_clear(&r->lock);
	g_free(r);
}

// mix_running_time is the element's clock time minus its base time: the
// running time that live buffers are stamped with. NONE without a clock.
static GstClockTime mix_running_time(GstElement *e) {
	GstClock *c = gst_element_get_clock(e);
	if (c == NULL)
		return GST_CLOCK_TIME_NONE;
	GstClockTime now = gst_clock_get_time(c);
	gst_object_unref(c);
	GstClockTime base = gst_element_get_base_time(e);
	return now > base ? now - base : 0;
}

// mix_force_key_unit asks the encoder downstream of appsrc for an IDR with
// SPS/PPS at the next picture.
static gboolean mix_force_key_unit(GstElement *src) {
	GstEvent *ev = gst_video_event_new_downstream_force_key_unit(
		GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, TRUE, 0);
	return gst_element_send_event(src, ev);
}

// mix_watch counts the buffers through a pad and notes when the last one
// passed, without calling into Go on the streaming thread.
typedef struct {
	gint64 last_us; // g_get_monotonic_time of the last buffer, 0 before one
	guint64 count;
	gulong probe;
} mix_watch;

static GstPadProbeReturn mix_watch_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
	mix_watch *w = data;
	__atomic_store_n(&w->last_us, g_get_monotonic_time(), __ATOMIC_RELAXED);
	__atomic_add_fetch(&w->count, 1, __ATOMIC_RELAXED);
	return GST_PAD_PROBE_OK;
}

static mix_watch *mix_watch_add(GstPad *pad) {
	mix_watch *w = g_new0(mix_watch, 1);
	w->probe = gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, mix_watch_probe, w, NULL);
	return w;
}

// mix_watch_age is how long ago (µs) the last buffer passed; -1 before one.
static gint64 mix_watch_age(mix_watch *w) {
	gint64 last = __atomic_load_n(&w->last_us, __ATOMIC_RELAXED);
	return last == 0 ? -1 : g_get_monotonic_time() - last;
}

static guint64 mix_watch_count(mix_watch *w) {
	return __atomic_load_n(&w->count, __ATOMIC_RELAXED);
}

// mix_watch_remove detaches the probe and frees the watch; the pad must
// still be alive.
static void mix_watch_remove(GstPad *pad, mix_watch *w) {
	gst_pad_remove_probe(pad, w->probe);
	g_free(w);
}
*/
import "C"

import (
	"time"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
)

// pushResult is what a push into an appsrc came to.
type pushResult int

const (
	pushRefused pushResult = -1 // appsrc not running
	pushFull    pushResult = 0  // queue over its limit: dropped
	pushQueued  pushResult = 1
)

func cElement(e *gst.Element) *C.GstElement { return (*C.GstElement)(e.Unsafe()) }

func cTime(d time.Duration) C.GstClockTime {
	if d < 0 {
		return C.GstClockTime(C.G_MAXUINT64) // GST_CLOCK_TIME_NONE
	}
	return C.GstClockTime(d)
}

// pushBytes copies data into a buffer for src; the element must stay alive
// for the call (callers hold it in a struct and a lock).
func pushBytes(src *gst.Element, data []byte, pts, dts, dur time.Duration, key bool, maxBytes uint64) pushResult {
	if len(data) == 0 {
		return pushRefused
	}
	delta := C.gboolean(0)
	if !key {
		delta = 1
	}
	r := C.mix_push_bytes(cElement(src), unsafe.Pointer(&data[0]), C.gsize(len(data)),
		cTime(pts), cTime(dts), cTime(dur), delta, C.guint64(maxBytes))
	return pushResult(r)
}

// rawPump forwards composite pictures to an encoder (see mix_raw).
type rawPump struct{ r *C.mix_raw }

func newRawPump(sink *gst.Element) *rawPump { return &rawPump{C.mix_raw_attach(cElement(sink))} }

// set makes src (an encoder's appsrc; nil for none) receive rendition r's
// pictures, dropping them while more than maxBytes wait in it.
func (p *rawPump) set(r Rendition, src *gst.Element, maxBytes uint64) {
	var c *C.GstElement
	if src != nil {
		c = cElement(src)
	}
	C.mix_raw_set(p.r, C.int(r), c, C.guint64(maxBytes))
}

func (p *rawPump) counts() (frames, dropped uint64) {
	return uint64(C.mix_raw_frames(p.r)), uint64(C.mix_raw_dropped(p.r))
}

// lowDropped is the pictures the low rendition's encoder did not take
// while it had one.
func (p *rawPump) lowDropped() uint64 { return uint64(C.mix_raw_low_dropped(p.r)) }

// free must be called once, after the composite is stopped.
func (p *rawPump) free() { C.mix_raw_free(p.r) }

// runningTime is e's running time now, or -1 before it has a clock.
func runningTime(e *gst.Element) time.Duration {
	t := C.mix_running_time(cElement(e))
	if t == C.GstClockTime(C.G_MAXUINT64) {
		return -1
	}
	return time.Duration(t)
}

func forceKeyUnit(src *gst.Element) bool { return C.mix_force_key_unit(cElement(src)) != 0 }

// padWatch notes the buffers passing a pad (a point's decoded pictures).
type padWatch struct {
	pad *gst.Pad
	w   *C.mix_watch
}

func watchPad(pad *gst.Pad) *padWatch {
	return &padWatch{pad: pad, w: C.mix_watch_add((*C.GstPad)(pad.Unsafe()))}
}

// age is the time since the last buffer, or -1 before the first.
func (p *padWatch) age() time.Duration {
	us := C.mix_watch_age(p.w)
	if us < 0 {
		return -1
	}
	return time.Duration(us) * time.Microsecond
}

func (p *padWatch) count() uint64 { return uint64(C.mix_watch_count(p.w)) }

// remove must be called once, while the pad is alive.
func (p *padWatch) remove() { C.mix_watch_remove((*C.GstPad)(p.pad.Unsafe()), p.w) }

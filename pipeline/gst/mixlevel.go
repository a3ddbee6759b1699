package gst

/*
#cgo pkg-config: gstreamer-1.0
// The level element posts GValueArrays, which GLib deprecates but
// GStreamer 1.22 still uses: reading them is the only way.
#define GLIB_DISABLE_DEPRECATION_WARNINGS
#include <math.h>
#include <gst/gst.h>

// mix_level_read takes the loudest channel's peak and RMS (dBFS) from a
// "level" element message. Digital silence is -inf there; floor clamps it
// (and anything quieter) to a number JSON can carry.
static gboolean mix_level_read(GstMessage *msg, double floor, double *peak, double *rms) {
	const GstStructure *s = gst_message_get_structure(msg);
	if (s == NULL || !gst_structure_has_name(s, "level"))
		return FALSE;
	const GValue *pv = gst_structure_get_value(s, "peak");
	const GValue *rv = gst_structure_get_value(s, "rms");
	if (pv == NULL || rv == NULL || !G_VALUE_HOLDS(pv, G_TYPE_VALUE_ARRAY) || !G_VALUE_HOLDS(rv, G_TYPE_VALUE_ARRAY))
		return FALSE;
	GValueArray *pa = g_value_get_boxed(pv), *ra = g_value_get_boxed(rv);
	*peak = floor;
	*rms = floor;
	for (guint i = 0; pa != NULL && i < pa->n_values; i++) {
		double v = g_value_get_double(g_value_array_get_nth(pa, i));
		if (isfinite(v) && v > *peak)
			*peak = v;
	}
	for (guint i = 0; ra != NULL && i < ra->n_values; i++) {
		double v = g_value_get_double(g_value_array_get_nth(ra, i));
		if (isfinite(v) && v > *rms)
			*rms = v;
	}
	return TRUE;
}
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
)

// Every point's decoded sound passes a GStreamer level element before its
// gain and mute (slotAudio), so what is measured is what the point sends:
// a muted microphone at the commune shows, an operator's mute does not hide
// it. The element posts a message on the bus every LevelInterval of audio;
// the owner reads them with the rest of the bus (Poll), never a streaming
// thread.

// LevelInterval is how much audio each level reading covers.
const LevelInterval = 100 * time.Millisecond

// LevelFloorDBFS is the quietest level reported: digital silence (-inf)
// and anything below reads as this.
const LevelFloorDBFS = -100.0

// Level is one reading of a point's sound, in dBFS (0 is full scale), of
// its loudest channel.
type Level struct {
	PeakDBFS, RMSDBFS float64
	// At is when the owner took the reading off the bus.
	At time.Time
}

func mixLevel(i int) string { return fmt.Sprintf("lvl%d", i) }

// slotLevel is point's level meter in its audio chain.
func slotLevel(point int) elemSpec {
	return elemSpec{factory: "level", name: mixLevel(point), props: []string{
		fmt.Sprintf("interval=%d", LevelInterval.Nanoseconds()), "post-messages=true",
	}}
}

// Level is point's latest sound reading; false before the first, and for
// a slot not in the composite. A point that sends no audio has none, and
// one whose audio stopped keeps its last (see Level.At). Owner only.
func (m *Mix) Level(point int) (Level, bool) {
	if !m.HasPoint(point) || m.levels[point].At.IsZero() {
		return Level{}, false
	}
	return m.levels[point], true
}

// takeLevel keeps a level message's reading for its point; other element
// messages are ignored. Owner only (from Poll).
func (m *Mix) takeLevel(msg *gst.Message, now time.Time) {
	point, ok := m.levelPoints[msg.Source()]
	if !ok || !m.present[point] {
		return
	}
	var peak, rms C.double
	if C.mix_level_read((*C.GstMessage)(unsafe.Pointer(msg.Instance())), C.double(LevelFloorDBFS), &peak, &rms) == 0 {
		return
	}
	m.levels[point] = Level{PeakDBFS: float64(peak), RMSDBFS: float64(rms), At: now}
}

// audioEOSFrom is where the composite's shutdown pushes EOS into point's
// sound: past its level element, which in GStreamer 1.22 works out a last
// reading on EOS even when it never had caps (a point without sound) and
// trips GLib criticals dividing by its zero rate.
func (m *Mix) audioEOSFrom(point int) *gst.Element {
	if e, err := m.element(mixLevel(point)); err == nil {
		return e
	}
	return m.ainlets[point]
}

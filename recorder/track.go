package recorder

import (
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"

	"diemcau/pipeline"
)

// trackWriter gathers one track's samples for the open segment. A sample's
// duration is only known when the next frame arrives, so the newest frame
// waits in pending; the segment's clock starts at zero at its first
// keyframe (origin) and keeps the source's own timing from there.
type trackWriter struct {
	src       *pipeline.Track
	id        int
	timescale uint32
	codec     mp4.Codec
	video     bool
	maxJump   int64 // ticks; a longer step in timestamps is smoothed over

	origin time.Duration
	shift  int64 // ticks added since timestamps jumped

	pending    *pipeline.Frame
	pendingDTS int64
	lastDur    int64

	baseTime uint64
	samples  []*fmp4.Sample
	store    []fmp4.Sample // backing of samples, reused between parts
	slab     []byte        // sample bytes of this part, reused
	part     fmp4.PartTrack
	partDur  int64

	flushedDur     int64 // ticks written to disk
	flushedSamples int
	jumps          int // timestamp jumps smoothed over
	early          int // frames before the segment's start, dropped
}

func newTrackWriter(t *pipeline.Track, id int, key *pipeline.Frame, origin, maxJump time.Duration) (*trackWriter, error) {
	codec, ts, err := mp4Codec(t, key)
	if err != nil {
		return nil, err
	}
	return &trackWriter{
		src:       t,
		id:        id,
		timescale: ts,
		codec:     codec,
		video:     t.Kind() == pipeline.Video,
		maxJump:   toTicks(maxJump, ts),
		origin:    origin,
	}, nil
}

// frameTime is the decode time of a frame: audio has no reordering, and
// sources may leave its DTS unset.
func frameTime(f *pipeline.Frame) time.Duration {
	if f.Track != nil && f.Track.Kind() == pipeline.Video {
		return f.DTS
	}
	return f.PTS
}

// toTicks converts a duration to a time scale, rounding to the nearest tick.
func toTicks(d time.Duration, rate uint32) int64 {
	s, r := int64(d/time.Second), int64(d%time.Second)
	half := int64(time.Second / 2)
	if r < 0 {
		half = -half
	}
	return s*int64(rate) + (r*int64(rate)+half)/int64(time.Second)
}

// push takes the next frame of the track.
func (t *trackWriter) push(f *pipeline.Frame) {
	d := toTicks(frameTime(f)-t.origin, t.timescale) + t.shift
	if t.pending == nil {
		if d < 0 {
			t.early++ // audio captured before the segment's first picture
			return
		}
		t.pending, t.pendingDTS = f, d
		return
	}
	dur := d - t.pendingDTS
	if dur <= 0 || dur > t.maxJump {
		// A camera that resets or steps its clock: keep the file's timeline
		// continuous instead of writing a negative or huge duration.
		t.jumps++
		dur = t.defaultDuration(t.pending)
		t.shift += t.pendingDTS + dur - d
		d = t.pendingDTS + dur
	}
	t.complete(dur)
	t.pending, t.pendingDTS = f, d
}

// finish completes the pending frame, ending it at end (ticks) when that is
// known (the next segment's first keyframe) and plausible.
func (t *trackWriter) finish(end *time.Duration) {
	if t.pending == nil {
		return
	}
	dur := int64(0)
	if end != nil {
		dur = toTicks(*end-t.origin, t.timescale) + t.shift - t.pendingDTS
	}
	if dur <= 0 || dur > t.maxJump {
		dur = t.defaultDuration(t.pending)
	}
	t.complete(dur)
	t.pending = nil
}

func (t *trackWriter) complete(dur int64) {
	f := t.pending
	if len(t.samples) == 0 {
		t.baseTime = uint64(t.pendingDTS)
	}
	start := len(t.slab)
	t.slab = appendSample(t.slab, t.src, f)
	t.store = append(t.store, fmp4.Sample{
		Duration:        uint32(dur),
		IsNonSyncSample: t.video && !f.Key,
		Payload:         t.slab[start:len(t.slab):len(t.slab)],
	})
	s := &t.store[len(t.store)-1]
	if t.video && f.PTS != f.DTS {
		s.PTSOffset = int32(toTicks(f.PTS-f.DTS, t.timescale))
	}
	t.samples = append(t.samples, s)
	t.partDur += dur
	t.lastDur = dur
}

// defaultDuration guesses the length of a frame whose successor is unknown.
func (t *trackWriter) defaultDuration(f *pipeline.Frame) int64 {
	if t.lastDur > 0 {
		return t.lastDur
	}
	switch t.src.Codec {
	case pipeline.H264, pipeline.H265:
		if t.src.FPS > 0 {
			return int64(float64(t.timescale)/t.src.FPS + 0.5)
		}
		return int64(t.timescale) / 30
	case pipeline.AAC:
		return 1024
	case pipeline.Opus:
		return 960 // 20 ms, the usual packet
	case pipeline.PCMU, pipeline.PCMA:
		ch := max(t.src.Channels, 1)
		if n := len(f.Payload) / ch; n > 0 {
			return int64(n)
		}
	}
	return 1
}

// partTrack hands the gathered samples to a fragment; nil when there are none.
func (t *trackWriter) partTrack() *fmp4.PartTrack {
	if len(t.samples) == 0 {
		return nil
	}
	t.part = fmp4.PartTrack{ID: t.id, BaseTime: t.baseTime, Samples: t.samples}
	return &t.part
}

// flushed forgets the samples once their fragment is on disk, keeping the
// buffers for the next part.
func (t *trackWriter) flushed() {
	t.flushedDur += t.partDur
	t.flushedSamples += len(t.samples)
	t.dropPart()
}

// dropPart forgets the samples of a fragment that could not be written.
func (t *trackWriter) dropPart() {
	clear(t.samples)
	t.samples = t.samples[:0]
	clear(t.store)
	t.store = t.store[:0]
	t.slab = t.slab[:0]
	t.partDur = 0
	t.part = fmp4.PartTrack{}
}

package recorder

import (
	"math"
	"time"

	"diemcau/pipeline"
)

// aheadLimit bounds how far sound is held ahead of the latest picture, and
// how much sound is kept while a stream waits for its first keyframe. A
// video encoder can give its first pictures seconds after the sound of the
// same time: a composite's x264 starting on a loaded machine was measured
// at over 2 s.
const aheadLimit = 10 * time.Second

// Sound ahead of the picture. Frames reach the recorder in arrival order.
// Sound that arrives before the picture of its time would be written into
// the open segment even when the next keyframes cut it: the segment then
// holds sound past its last picture and the next one starts silent. So a
// sound frame that starts after the latest picture waits (in ahead) until
// a picture at or after its time arrives, and is then written into the
// segment of its time.

// holdAhead keeps f, a frame of the open segment, when it is sound that
// starts after the latest picture; it reports whether it did. Sound more
// than aheadLimit ahead (the picture stalled while the sound goes on) is
// written rather than held without bound.
func (s *streamRecorder) holdAhead(f *pipeline.Frame, now time.Time) bool {
	if f.Track.Kind() != pipeline.Audio || !s.seg.lead.video || frameTime(f) <= s.pictureTime {
		return false
	}
	s.ahead = append(s.ahead, f)
	s.releaseAhead(frameTime(f)-aheadLimit, now)
	return true
}

// releaseAhead writes the held sound that starts before t into the open
// segment, in arrival order; false when a write failed (the segment is
// then closed).
func (s *streamRecorder) releaseAhead(t time.Duration, now time.Time) bool {
	n := 0
	for n < len(s.ahead) && frameTime(s.ahead[n]) < t {
		n++
	}
	for i := range n {
		f := s.ahead[i]
		s.ahead[i] = nil // written or skipped: dropAhead counts the rest
		tw := s.seg.trackFor(f.Track)
		if tw == nil {
			s.skipped.Add(1)
			continue
		}
		if !s.write(tw, f, now) {
			return false // the segment is closed and the rest dropped
		}
	}
	s.ahead = s.ahead[:copy(s.ahead, s.ahead[n:])]
	return true
}

// flushAhead writes all the held sound: the stream's last moments before a
// gap or the run's end, which no later picture will release.
func (s *streamRecorder) flushAhead(now time.Time) {
	if s.seg == nil {
		s.dropAhead()
		return
	}
	s.releaseAhead(math.MaxInt64, now)
}

// dropAhead forgets the held sound when its segment can take no more.
func (s *streamRecorder) dropAhead() {
	for _, f := range s.ahead {
		if f != nil {
			s.skipped.Add(1)
		}
	}
	s.ahead = s.ahead[:0]
}

package recorder

import (
	"time"

	"diemcau/pipeline"
)

// tailHold is how long a cut segment waits for the sound that belongs
// before the cut. The composite's sound leaves its encoder some 50 ms after
// the picture of the same time; a camera's may come in bursts of up to half
// a second.
const tailHold = time.Second

// segmentTail is a segment that was cut at a keyframe but still takes the
// sound frames that start before the cut. Sound and picture of a source
// reach the recorder in arrival order, not time order: the audio frames of
// the last moments before a keyframe often arrive after it. Closing the
// segment at the keyframe dropped them (they precede the next segment's
// start), a hole of a frame or more at every cut.
type segmentTail struct {
	seg   *segmentWriter
	end   time.Duration // the cut: the next segment's first picture
	since time.Time
}

// cut ends the open segment at end (the next segment's keyframe). A
// segment with sound stays open for the sound before end; one without is
// closed at once.
func (s *streamRecorder) cut(end time.Duration, now time.Time) {
	s.closeTail()
	seg := s.seg
	s.seg = nil
	if !seg.hasAudio() {
		s.closeWriter(seg, &end, false)
		return
	}
	seg.endLead(end)
	s.tail = segmentTail{seg: seg, end: end, since: now}
}

// toTail takes f into the cut segment if it is sound from before the cut,
// and reports whether it did. The first sound frame from after the cut
// closes the cut segment: nothing more can come for it.
func (s *streamRecorder) toTail(f *pipeline.Frame) bool {
	t := &s.tail
	if t.seg == nil || f.Track.Kind() != pipeline.Audio {
		return false
	}
	tw := t.seg.trackFor(f.Track)
	if tw == nil || frameTime(f) >= t.end {
		s.closeTail()
		return false
	}
	if _, err := t.seg.add(tw, f); err != nil {
		s.warn("sound before the cut not written", err, s.run.rec.now())
		s.closeTail()
	}
	return true
}

// expireTail closes a cut segment whose late sound did not come.
func (s *streamRecorder) expireTail(now time.Time) {
	if s.tail.seg != nil && now.Sub(s.tail.since) >= tailHold {
		s.closeTail()
	}
}

// closeTail closes the cut segment, if any, and writes its manifest line:
// always before the next segment's.
func (s *streamRecorder) closeTail() {
	t := s.tail
	if t.seg == nil {
		return
	}
	s.tail = segmentTail{}
	s.closeWriter(t.seg, &t.end, false)
}

package recorder

import (
	"math"
	"time"

	"diemcau/pipeline"
)

// Sound ahead of the picture. Frames reach the recorder in arrival order,
// and sound often arrives before the picture of its time: a composite's
// sound comes out of its encoder seconds before the first picture at a
// run's start, a camera's when its video path is the slower. Written at
// once, it went into the open segment even when the next keyframe cut it
// (that segment then held sound past its last picture, and the next one
// started silent), and while a stream waited for a keyframe it had no
// segment to go to. So sound that starts after the latest picture, or
// comes before the first keyframe, waits in ahead until a picture at or
// after its time arrives, and is then written into the segment of its time.
const (
	// aheadLimit bounds how far sound is held ahead of the latest picture:
	// a composite's x264 starting on a loaded machine gave its first
	// picture over 2 s after the sound of the same time. Sound further
	// ahead (the picture stalled while the sound goes on) is written, or
	// without a segment skipped, rather than held without bound.
	aheadLimit = 10 * time.Second
	// aheadFrames bounds it too: 10 s of 20 ms frames.
	aheadFrames = 512
)

// holdAhead keeps f when it is sound that waits for its picture: while the
// stream waits for a keyframe (no segment), or when it starts after the
// open segment's latest picture. It reports whether it kept f.
func (s *streamRecorder) holdAhead(f *pipeline.Frame, now time.Time) bool {
	if f.Track.Kind() != pipeline.Audio {
		return false
	}
	if s.seg != nil && (!s.seg.lead.video || frameTime(f) <= s.pictureTime) {
		return false
	}
	s.ahead = append(s.ahead, f)
	if len(s.ahead) > aheadFrames {
		s.releaseFirst(1, now)
	}
	s.releaseAhead(frameTime(f)-aheadLimit, now)
	return true
}

// releaseAhead writes the held sound that starts before t into the open
// segment, in arrival order (without a segment it is skipped); false when a
// write failed (the segment is then closed).
func (s *streamRecorder) releaseAhead(t time.Duration, now time.Time) bool {
	n := 0
	for n < len(s.ahead) && frameTime(s.ahead[n]) < t {
		n++
	}
	return s.releaseFirst(n, now)
}

// releaseFirst writes (or without a segment skips) the first n held frames.
func (s *streamRecorder) releaseFirst(n int, now time.Time) bool {
	for i := range n {
		f := s.ahead[i]
		s.ahead[i] = nil // written or skipped: dropAhead counts the rest
		var tw *trackWriter
		if s.seg != nil {
			tw = s.seg.trackFor(f.Track)
		}
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

// settleAhead sorts the sound held while the stream waited, once a segment
// opened at origin: sound from before its first picture is skipped; the
// rest stays held for the pictures of its time, or is written at once when
// the segment has no picture to wait for.
func (s *streamRecorder) settleAhead(origin time.Duration, now time.Time) {
	if !s.releaseAhead(origin, now) || s.seg.lead.video {
		return
	}
	s.releaseAhead(math.MaxInt64, now)
}

// flushAhead writes all the held sound: the stream's last moments before a
// gap or the run's end, which no later picture will release (without a
// segment it is skipped).
func (s *streamRecorder) flushAhead(now time.Time) {
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

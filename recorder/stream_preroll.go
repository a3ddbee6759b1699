package recorder

import (
	"time"

	"diemcau/pipeline"
)

// prerollFrames bounds the sound kept while a stream waits for its first
// keyframe, beside aheadLimit: 10 s of 20 ms frames.
const prerollFrames = 512

// preroll keeps the sound frames that arrive while a stream waits for a
// keyframe. The sound of the moments after that keyframe can arrive before
// it: a composite's sound comes out of its encoder long before the first
// picture at a run's start, a camera's when its video path is the slower.
// Without them a run's first segment, and the first after a gap, started
// silent for as long as the picture was late.
type preroll struct {
	frames []*pipeline.Frame
}

// keep holds an audio frame for the segment about to open; false for other
// frames. It drops what is older than prerollKeep before the newest.
func (p *preroll) keep(f *pipeline.Frame) bool {
	if f.Track.Kind() != pipeline.Audio {
		return false
	}
	if len(p.frames) == prerollFrames {
		p.frames = append(p.frames[:0], p.frames[1:]...)
	}
	p.frames = append(p.frames, f)
	newest := frameTime(f)
	drop := 0
	for drop < len(p.frames) && newest-frameTime(p.frames[drop]) > aheadLimit {
		drop++
	}
	if drop > 0 {
		p.frames = append(p.frames[:0], p.frames[drop:]...)
	}
	return true
}

// take returns the kept frames and forgets them.
func (p *preroll) take() []*pipeline.Frame {
	out := p.frames
	p.frames = nil
	return out
}

// replayPreroll takes the sound kept while waiting that belongs to the
// segment just opened at origin, its first picture: sound of that moment
// is written, later sound is held until the pictures of its time come
// (stream_ahead.go); earlier sound is counted as skipped.
func (s *streamRecorder) replayPreroll(origin time.Duration, now time.Time) {
	frames := s.preroll.take()
	for i, f := range frames {
		tw := s.seg.trackFor(f.Track)
		if tw == nil || frameTime(f) < origin {
			s.skipped.Add(1)
			continue
		}
		if s.holdAhead(f, now) {
			continue
		}
		if !s.write(tw, f, now) {
			s.skipped.Add(uint64(len(frames) - i - 1))
			return
		}
	}
}

package recorder

import (
	"time"

	"diemcau/pipeline"
)

// streamClosed: the writer closed the stream; it is a gap until the run
// ends or the stream is removed.
func (s *streamRecorder) streamClosed() {
	if s.closed {
		return
	}
	s.closed = true
	if s.state == StateRecording || s.state == StateWaiting {
		s.beginGap(s.lastFrame)
	}
}

// end records the frames queued when the run stopped or the stream was
// removed, and finishes: frames the writer adds meanwhile are not the run's,
// or a fast writer could hold Stop up.
func (s *streamRecorder) end(wake <-chan struct{}) {
	if wake != nil {
		s.drain(s.reader.Stats().Queued)
		s.awaitLastSound(wake)
	}
	now := s.run.rec.now()
	select {
	case <-s.quit:
		// Removed (even if the run is stopping too: RemoveStream came first,
		// and Stop waits for this line before the seal).
		s.finish(now, StateRemoved)
		if err := s.run.manifest.addStreamEvent(s.name, StreamRemoved, now); err != nil {
			s.run.noteError(err)
			s.log.Warn("stream removed, its manifest line not written yet", "err", err)
		}
	default:
		s.finish(now, StateEnded)
	}
}

// finish ends the stream's part of the run: the open segment is closed and
// a gap still open is written up to now.
func (s *streamRecorder) finish(now time.Time, state string) {
	s.flushAhead(now)
	if s.seg != nil {
		s.closeSegment(nil)
	}
	if s.state == StateGap {
		s.endGap(now)
	}
	s.setState(state, "")
	s.publish()
}

// lastSoundWait bounds how long a stopping stream waits for the sound of
// its last pictures. A composite's AAC leaves its encoder some 50–100 ms
// after the picture of the same time, so a stop used to cut the last
// segment's sound that much short of its pictures.
const lastSoundWait = 300 * time.Millisecond

// awaitLastSound takes, for at most lastSoundWait, the sound frames that
// the open segment still lacks up to its last picture. Pictures that come
// meanwhile are after the stop: not the run's.
func (s *streamRecorder) awaitLastSound(wake <-chan struct{}) {
	if s.seg == nil || !s.seg.lead.video || !s.seg.hasAudio() || s.soundReached() {
		return
	}
	timer := time.NewTimer(lastSoundWait)
	defer timer.Stop()
	for s.seg != nil && !s.soundReached() {
		select {
		case <-timer.C:
			return
		case <-wake:
		}
		for s.seg != nil && !s.soundReached() {
			f, err := s.reader.Poll()
			if err != nil || f == nil {
				break // closed, or nothing more yet
			}
			if f.Track != nil && f.Track.Kind() == pipeline.Audio {
				s.handle(f, s.run.rec.now())
			}
		}
	}
}

// soundReached says whether the open segment's sound, written or held
// ahead, has reached its last picture.
func (s *streamRecorder) soundReached() bool {
	t := s.soundTime
	if n := len(s.ahead); n > 0 {
		t = max(t, frameTime(s.ahead[n-1]))
	}
	return t >= s.pictureTime
}

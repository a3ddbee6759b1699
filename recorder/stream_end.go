package recorder

import "time"

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

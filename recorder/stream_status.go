package recorder

import "time"

func (s *streamRecorder) setState(state, reason string) {
	s.state = state
	s.mu.Lock()
	s.st.State, s.st.Reason = state, reason
	if state != StateRecording {
		s.st.File = ""
	}
	s.mu.Unlock()
}

func (s *streamRecorder) publish() {
	open := int64(0)
	if s.seg != nil {
		open = s.seg.size
	}
	rs := s.reader.Stats()
	s.mu.Lock()
	s.st.OpenBytes = open
	s.st.Frames = s.frames.Load()
	s.st.Skipped = s.skipped.Load()
	s.st.Dropped = s.droppedBase + rs.Dropped
	s.mu.Unlock()
}

func (s *streamRecorder) status() StreamStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Frames = s.frames.Load()
	st.Skipped = s.skipped.Load()
	return st
}

// warn logs an error now and then, counting the rest.
func (s *streamRecorder) warn(msg string, err error, now time.Time) {
	s.warnings++
	if now.Sub(s.lastWarn) < errorLogEvery {
		return
	}
	s.log.Warn(msg, "err", err, "occurrences", s.warnings)
	s.lastWarn, s.warnings = now, 0
}

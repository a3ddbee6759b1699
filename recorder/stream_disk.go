package recorder

import "time"

// What a stream does when the disk refuses it: a write error or a full disk
// closes the segment as far as it got, and the stream waits, asking once a
// second, until there is room again; it then resumes at the next keyframe.

// writeFailed closes the segment as far as it got and stops until the disk
// has room again.
func (s *streamRecorder) writeFailed(err error, now time.Time) {
	s.dropAhead()
	s.closeSegment(nil)
	if isDiskFull(err) {
		s.run.rec.guard.forget()
		s.stopForDisk("disk full: "+err.Error(), true, now)
		return
	}
	s.stopForDisk("write error: "+err.Error(), false, now)
}

func (s *streamRecorder) stopForDisk(why string, full bool, now time.Time) {
	s.dropAhead()
	if s.seg != nil {
		s.closeSegment(nil)
	}
	s.afterFull = full
	s.retryAt = now.Add(diskCheckEvery)
	if s.state != StateDiskStopped {
		s.log.Warn("recording stopped", "reason", why)
	}
	s.setState(StateDiskStopped, why)
}

// mayResume says whether a stopped stream may record again; it asks at most
// once a second.
func (s *streamRecorder) mayResume(now time.Time) bool {
	if now.Before(s.retryAt) {
		return false
	}
	s.retryAt = now.Add(diskCheckEvery)
	ok := false
	if s.afterFull {
		ok = s.run.rec.guard.roomAfterFull(now)
	} else {
		ok, _ = s.run.rec.guard.low(now)
		ok = !ok
	}
	if !ok {
		return false
	}
	if err := s.run.manifest.retry(); err != nil {
		return false
	}
	s.log.Info("recording resumed")
	s.setState(StateWaiting, "")
	s.stream.RequestKeyframe()
	return true
}

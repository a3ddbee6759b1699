package recorder

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"diemcau/pipeline"
)

// Stream states, as RunStatus shows them.
const (
	StateWaiting     = "waiting"      // for the first keyframe
	StateRecording   = "recording"    // a segment is open
	StateGap         = "gap"          // no frames for GapTimeout; its segment is closed
	StateDiskStopped = "disk_stopped" // stopped by low space or a write error; retried each second
	StateEnded       = "ended"        // the run stopped
	StateRemoved     = "removed"      // Run.RemoveStream took it out of the run
)

// errorLogEvery bounds how often a stream repeats a warning.
const errorLogEvery = time.Minute

// streamRecorder records one stream of a run into its folder. One
// goroutine (loop) owns everything but the status, which it publishes.
type streamRecorder struct {
	run    *Run
	name   string // "composite", "sources/{id}"
	stream *pipeline.Stream
	reader *pipeline.Reader
	log    *slog.Logger
	quit   chan struct{} // closed by RemoveStream
	done   chan struct{} // closed when loop has returned

	// Guarded by run.mu.
	leaving bool // RemoveStream has begun
	gone    bool // removed: loop has returned, next is final

	state string
	seg   *segmentWriter
	tail  segmentTail       // the segment before seg, still taking its sound
	ahead []*pipeline.Frame // sound waiting for its picture (stream_ahead.go)
	// pictureTime is the latest picture's time in the open segment,
	// soundTime the latest sound frame's written into it.
	pictureTime, soundTime time.Duration
	next                   int // number of the next segment file
	lastFrame              time.Time
	gapFrom                time.Time
	anchored               bool
	anchorWall             time.Time
	anchorTime             time.Duration
	retryAt                time.Time
	afterFull              bool
	closed                 bool // the stream was closed by its writer
	lastWarn               time.Time
	warnings               int

	// The reader starts with the stream's GOP cache: when the same stream
	// comes back to the run, the part of that cache recorded before it left
	// is not recorded again.
	lastTime  time.Duration // latest stream time taken
	tookAny   bool          // lastTime is set
	replay    int           // frames of that cache left to check
	replayEnd time.Duration // the latest stream time taken before it left

	frames      atomic.Uint64
	skipped     atomic.Uint64
	droppedBase uint64 // dropped by the readers of earlier times in the run

	mu sync.Mutex
	st StreamStatus
}

// newStreamRecorder prepares the recording of s from since on. prev is the
// same name's earlier time in the run, removed: its numbering and counts go
// on rather than start again, so no file is written twice.
func newStreamRecorder(run *Run, name string, s *pipeline.Stream, since time.Time, prev *streamRecorder) *streamRecorder {
	sr := &streamRecorder{
		run:       run,
		name:      name,
		stream:    s,
		reader:    s.NewReader(pipeline.ReaderConfig{Name: "recorder " + run.id + " " + name, FromKeyframe: true}),
		log:       run.log.With("stream", name),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		state:     StateWaiting,
		next:      1,
		lastFrame: since,
		st:        StreamStatus{Stream: name, State: StateWaiting},
	}
	if prev != nil {
		before := prev.status()
		if prev.stream == s && prev.tookAny {
			sr.lastTime, sr.replayEnd = prev.lastTime, prev.lastTime
			sr.replay = sr.reader.Stats().Queued
		}
		sr.next = prev.next
		sr.st.Segments, sr.st.Bytes, sr.st.Dropped = before.Segments, before.Bytes, before.Dropped
		sr.frames.Store(before.Frames)
		sr.skipped.Store(before.Skipped)
		sr.droppedBase = before.Dropped
	}
	return sr
}

// loop records until the run stops (stop) or the stream is removed (quit).
func (s *streamRecorder) loop(stop <-chan struct{}) {
	defer close(s.done)
	defer s.reader.Close()
	tick := time.NewTicker(min(s.run.cfg.GapTimeout/4, 250*time.Millisecond))
	defer tick.Stop()
	wake := s.reader.Wake()
	s.stream.RequestKeyframe()
	for {
		select {
		case <-stop:
			s.end(wake)
			return
		case <-s.quit:
			s.end(wake)
			return
		case <-wake:
			if s.drain(-1) {
				wake = nil
			}
		case <-tick.C:
			s.tick(s.run.rec.now())
		}
	}
}

// drain handles the queued frames, at most limit of them when limit >= 0;
// it reports whether the stream is closed.
func (s *streamRecorder) drain(limit int) bool {
	for ; limit != 0; limit-- {
		f, err := s.reader.Poll()
		if err != nil {
			s.streamClosed()
			return true
		}
		if f == nil {
			return false
		}
		s.handle(f, s.run.rec.now())
	}
	return false
}

func (s *streamRecorder) handle(f *pipeline.Frame, now time.Time) {
	defer s.frames.Add(1) // counted once handled: a test can wait for it
	s.lastFrame = now
	if s.replay > 0 {
		s.replay--
		if frameTime(f) <= s.replayEnd {
			s.skipped.Add(1)
			return
		}
	}
	s.lastTime, s.tookAny = max(s.lastTime, frameTime(f)), true
	switch s.state {
	case StateGap:
		s.endGap(now)
	case StateDiskStopped:
		if !s.mayResume(now) {
			s.skipped.Add(1)
			return
		}
	}
	if f.Track == nil || !supported(f.Track.Codec) {
		s.skipped.Add(1)
		return
	}
	if s.toTail(f) {
		return
	}
	if s.seg == nil {
		s.start(f, now, true)
		return
	}
	if s.seg.ignores(f.Track) {
		s.skipped.Add(1)
		return
	}
	if f.Track.Kind() == pipeline.Video && s.seg.lead.video {
		// Sound held for being ahead of the pictures goes into the segment
		// before a cut at this picture can close it.
		if !s.releaseAhead(frameTime(f), now) {
			return
		}
		s.pictureTime = frameTime(f)
	} else if s.holdAhead(f, now) {
		return
	}
	tw := s.seg.trackFor(f.Track)
	if tw == nil && !slices.Contains(s.stream.Tracks(), f.Track) {
		// A frame of a track the stream does not (or no longer) publish:
		// cutting for it could cut at every such frame.
		s.skipped.Add(1)
		return
	}
	switch {
	case tw == nil || s.seg.paramsChanged(f):
		// New codec parameters: a player needs a new init, so a new file.
		s.closeSegment(nil)
		s.start(f, now, true)
		return
	case s.seg.canCutAt(f) && s.seg.elapsed(f) >= s.run.cfg.Segment:
		s.cut(frameTime(f), now)
		s.start(f, now, false)
		return
	}
	s.write(tw, f, now)
}

// write adds f to the open segment; false when the write failed or the
// disk ran low (the segment is then closed).
func (s *streamRecorder) write(tw *trackWriter, f *pipeline.Frame, now time.Time) bool {
	flushed, err := s.seg.add(tw, f)
	if err != nil {
		s.writeFailed(err, now)
		return false
	}
	if f.Track.Kind() == pipeline.Audio {
		s.soundTime = max(s.soundTime, frameTime(f))
	}
	if flushed {
		if low, why := s.run.rec.guard.low(now); low {
			s.stopForDisk(why, false, now)
			return false
		}
		s.publish()
	}
	return true
}

// start opens a segment at f if a decoder could start there (a keyframe
// when the stream has video); fresh re-anchors the wall clock, which a plain
// cut does not so that consecutive segments line up exactly.
func (s *streamRecorder) start(f *pipeline.Frame, now time.Time, fresh bool) {
	hasVideo := f.Track.Kind() == pipeline.Video || s.stream.Track(pipeline.Video) != nil
	if hasVideo && (f.Track.Kind() != pipeline.Video || !f.Key) {
		s.setState(StateWaiting, "")
		if !s.holdAhead(f, now) {
			s.skipped.Add(1)
		}
		return
	}
	if low, why := s.run.rec.guard.low(now); low {
		s.stopForDisk(why, false, now)
		s.skipped.Add(1)
		return
	}
	if fresh || !s.anchored {
		s.anchorWall, s.anchorTime, s.anchored = now, frameTime(f), true
		if !f.Wall.IsZero() {
			s.anchorWall = f.Wall
		}
	}
	origin := frameTime(f)
	file := path.Join(s.name, fmt.Sprintf("%06d.mp4", s.next))
	seg, skipped, err := openSegment(segmentSpec{
		runDir:  s.run.dir,
		file:    file,
		tracks:  segmentTracks(s.stream.Tracks(), f.Track),
		key:     f,
		origin:  origin,
		wall:    s.anchorWall.Add(origin - s.anchorTime),
		part:    s.run.cfg.Part,
		fsync:   s.run.cfg.Fsync,
		maxJump: s.run.cfg.GapTimeout + 5*time.Second,
		onSync:  s.run.fsyncs.add,
	})
	for _, e := range skipped {
		s.warn("track not recorded", e, now)
	}
	if err != nil {
		s.skipped.Add(1)
		if isDiskFull(err) {
			s.run.rec.guard.forget()
			s.stopForDisk("disk full: "+err.Error(), true, now)
			return
		}
		s.warn("segment not opened", err, now)
		s.setState(StateWaiting, "")
		return
	}
	s.next++
	s.seg = seg
	s.pictureTime, s.soundTime = origin, 0
	s.mu.Lock()
	s.st.File = file
	s.mu.Unlock()
	s.setState(StateRecording, "")
	if _, err := seg.add(seg.trackFor(f.Track), f); err != nil {
		s.writeFailed(err, now)
		return
	}
	s.settleAhead(origin, now)
}

// segmentTracks is the stream's track list with f's track in place of the
// one of its kind, should the list lag behind the frames.
func segmentTracks(tracks []*pipeline.Track, t *pipeline.Track) []*pipeline.Track {
	out := make([]*pipeline.Track, 0, len(tracks)+1)
	found := false
	for _, x := range tracks {
		switch {
		case x == t:
			found = true
			out = append(out, x)
		case x.Kind() == t.Kind():
		default:
			out = append(out, x)
		}
	}
	if !found {
		out = append([]*pipeline.Track{t}, out...)
	}
	return out
}

// closeSegment closes the open segment (and the one before it, if it is
// still taking its sound) and writes their manifest lines.
func (s *streamRecorder) closeSegment(end *time.Duration) {
	s.closeTail()
	seg := s.seg
	s.seg = nil
	s.closeWriter(seg, end, true)
}

// closeWriter closes seg and writes its manifest line; latest says it is
// the newest numbered segment (its number is reused if it came out empty).
func (s *streamRecorder) closeWriter(seg *segmentWriter, end *time.Duration, latest bool) {
	res, err := seg.close(end)
	if n := seg.earlyFrames() + seg.timestampJumps(); n > 0 {
		s.log.Info("segment timing", "file", seg.spec.file,
			"audio_before_start", seg.earlyFrames(), "timestamp_jumps", seg.timestampJumps())
	}
	if errors.Is(err, errEmptySegment) {
		if latest {
			s.next-- // the file was removed; its number is free again
		}
		return
	}
	if err != nil {
		s.warn("segment closed after a write error", err, s.run.rec.now())
	}
	if merr := s.run.manifest.addSegment(s.name, res); merr != nil {
		s.run.noteError(merr)
		s.warn("manifest line not written yet", merr, s.run.rec.now())
	}
	s.mu.Lock()
	s.st.Segments++
	s.st.Bytes += res.Bytes
	if latest {
		s.st.File = ""
	}
	s.mu.Unlock()
	s.log.Debug("segment closed", "file", res.File, "duration_ms", res.DurationMS, "bytes", res.Bytes)
}

func (s *streamRecorder) tick(now time.Time) {
	s.expireTail(now)
	if s.state == StateRecording || s.state == StateWaiting {
		if now.Sub(s.lastFrame) >= s.run.cfg.GapTimeout {
			s.beginGap(s.lastFrame)
		}
	}
	s.publish()
}

func (s *streamRecorder) beginGap(from time.Time) {
	s.flushAhead(s.run.rec.now())
	if s.seg != nil {
		s.closeSegment(nil)
	}
	s.gapFrom = from
	s.log.Info("no frames: segment closed, gap begins", "last_frame", from)
	s.setState(StateGap, "")
}

func (s *streamRecorder) endGap(to time.Time) {
	if err := s.run.manifest.addGap(s.name, s.gapFrom, to); err != nil {
		s.run.noteError(err)
		s.warn("gap line not written yet", err, to)
	}
	s.log.Info("frames again: gap ends", "gap", to.Sub(s.gapFrom).Round(time.Millisecond))
	s.setState(StateWaiting, "")
}

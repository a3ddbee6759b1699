package recorder

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"diemcau/pipeline"
)

// Errors of AddStream and RemoveStream, for errors.Is.
var (
	ErrRunStopped        = errors.New("the run is stopped")
	ErrStreamRecorded    = errors.New("already recorded in this run")
	ErrStreamNotRecorded = errors.New("not recorded in this run")
)

// AddStream starts recording s into the live run as {run}/{name}/, as
// StartRun does for the streams it is given; name is "composite" or
// "sources/{id}". A stream_event line ("added") precedes its segments. A
// name removed earlier in the run comes back in its folder and goes on with
// the next file number. It is safe to call from any goroutine.
func (r *Run) AddStream(name string, s *pipeline.Stream) error {
	fail := func(err error) error { return fmt.Errorf("recorder: run %s: add stream %q: %w", r.id, name, err) }
	if !validStreamName(name) {
		return fail(errors.New(`want "composite" or "sources/{id}"`))
	}
	if s == nil {
		return fail(errors.New("stream is nil"))
	}
	r.mu.Lock()
	_, err := r.mayAddLocked(name)
	r.mu.Unlock()
	if err != nil {
		return fail(err)
	}
	// Outside the lock (it syncs); a folder made for nothing stays empty,
	// which verify does not mind.
	if err := r.rec.streamDir(r.dir, name); err != nil {
		return fail(err)
	}
	now := r.rec.now()
	r.mu.Lock()
	prev, err := r.mayAddLocked(name)
	if err != nil {
		r.mu.Unlock()
		return fail(err)
	}
	sr := newStreamRecorder(r, name, s, now, prev)
	first := sr.next
	r.putLocked(sr)
	r.holdLocked() // from here Stop waits for the line and the goroutine
	r.mu.Unlock()

	if err := r.manifest.addStreamEvent(name, StreamAdded, now); err != nil {
		// The line waits in the writer and goes out before the next one.
		r.noteError(err)
		r.log.Warn("stream added, its manifest line not written yet", "stream", name, "err", err)
	}
	r.launch(sr)
	r.log.Info("stream added", "stream", name, "first_file", first)
	return nil
}

// RemoveStream stops recording a stream: its open segment is closed and
// synced and its line written, a gap still open is written, then a
// stream_event line ("removed"); it returns once the stream's goroutine has
// exited. The rest of the run goes on. It is safe to call from any
// goroutine.
func (r *Run) RemoveStream(name string) error {
	r.mu.Lock()
	var err error
	s := r.findLocked(name)
	switch {
	case r.stopping:
		err = ErrRunStopped
	case s == nil || s.leaving:
		err = ErrStreamNotRecorded
	}
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("recorder: run %s: remove stream %q: %w", r.id, name, err)
	}
	s.leaving = true
	close(s.quit)
	r.mu.Unlock()

	<-s.done
	r.mu.Lock()
	s.gone = true
	r.mu.Unlock()
	r.log.Info("stream removed", "stream", name)
	return nil
}

// mayAddLocked says whether name may join the run, and returns its earlier,
// removed, recorder if it had one.
func (r *Run) mayAddLocked(name string) (prev *streamRecorder, err error) {
	if r.stopping {
		return nil, ErrRunStopped
	}
	prev = r.findLocked(name)
	if prev != nil && !prev.gone {
		// Still leaving counts as recorded: its last file may be open.
		return nil, ErrStreamRecorded
	}
	return prev, nil
}

func (r *Run) findLocked(name string) *streamRecorder {
	i, found := r.indexLocked(name)
	if !found {
		return nil
	}
	return r.streams[i]
}

func (r *Run) indexLocked(name string) (int, bool) {
	return slices.BinarySearchFunc(r.streams, name, func(s *streamRecorder, name string) int {
		return strings.Compare(s.name, name)
	})
}

// putLocked adds s to the streams, kept in name order, in place of a
// removed recorder of the same name.
func (r *Run) putLocked(s *streamRecorder) {
	i, found := r.indexLocked(s.name)
	if found {
		r.streams[i] = s
		return
	}
	r.streams = slices.Insert(r.streams, i, s)
}

// holdLocked counts a stream goroutine about to start. It is called under
// r.mu with r.stopping false, or by StartRun while its own hold is on, so
// it happens before Stop (and the recorder's shutdown) can finish waiting.
func (r *Run) holdLocked() {
	r.rec.wg.Add(1)
	r.wg.Add(1)
}

// launch starts the goroutine holdLocked counted.
func (r *Run) launch(s *streamRecorder) {
	go func() {
		defer r.rec.wg.Done()
		defer r.wg.Done()
		s.loop(r.stopCh)
	}()
}

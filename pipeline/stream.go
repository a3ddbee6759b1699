package pipeline

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrStreamClosed is returned by Reader.Read once the stream has been closed
// and the reader's queue is drained.
var ErrStreamClosed = errors.New("stream closed")

// ErrReaderClosed is returned by Reader.Read after Reader.Close.
var ErrReaderClosed = errors.New("reader closed")

// Defaults for the GOP cache and reader queues.
const (
	DefaultReaderQueue = 512 // frames; about 8 s of 30 fps video with audio
	maxGOPFrames       = 1024
	maxGOPBytes        = 32 << 20
	keyframeRequestGap = time.Second
)

// Stream fans one writer out to many readers. Each reader has its own bounded
// queue: a slow reader loses frames (counted on the reader), never slows the
// writer or the other readers. The frames since the last video keyframe are
// kept so that a new reader can start decoding at once.
type Stream struct {
	name string

	mu          sync.Mutex
	tracks      []*Track
	readers     []*Reader
	gop         []*Frame
	gopBytes    int
	closed      bool
	keyRequest  func()
	lastKeyReq  time.Time
	changeCount uint64

	frames atomic.Uint64
	bytes  atomic.Uint64
}

// NewStream makes a stream with the given tracks (which may be empty until the
// source knows them; see SetTracks).
func NewStream(name string, tracks ...*Track) *Stream {
	s := &Stream{name: name}
	s.setTracksLocked(tracks)
	return s
}

// Name is the stream's name, for logs and metrics.
func (s *Stream) Name() string { return s.name }

// Tracks returns the current tracks. The slice must not be modified.
func (s *Stream) Tracks() []*Track {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tracks
}

// Track returns the current track of the given kind, or nil.
func (s *Stream) Track(k Kind) *Track {
	for _, t := range s.Tracks() {
		if t.Kind() == k {
			return t
		}
	}
	return nil
}

// SetTracks publishes new codec parameters (a reconnect with another size, a
// new SPS). The GOP cache is cleared because its frames belong to the old
// parameters; readers see the change through Frame.Track and Reader.Changes.
func (s *Stream) SetTracks(tracks []*Track) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setTracksLocked(tracks)
	s.clearGOPLocked()
	s.changeCount++
}

func (s *Stream) setTracksLocked(tracks []*Track) {
	ts := make([]*Track, len(tracks))
	for i, t := range tracks {
		// Index is set before the track is first published; re-publishing
		// the same track must not write to it while readers look.
		if t.Index != i {
			t.Index = i
		}
		ts[i] = t
	}
	s.tracks = ts
}

// Changes counts SetTracks calls; a reader that remembers it can tell that
// the codec parameters changed even without a frame.
func (s *Stream) Changes() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changeCount
}

// Write hands a frame to every reader. It never blocks on a reader.
func (s *Stream) Write(f *Frame) {
	s.frames.Add(1)
	s.bytes.Add(uint64(f.Size()))

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.cacheLocked(f)
	for _, r := range s.readers {
		r.push(f)
	}
}

// cacheLocked keeps the frames from the last video keyframe on. A stream
// without video caches nothing: audio decoders start anywhere.
func (s *Stream) cacheLocked(f *Frame) {
	if f.Track == nil || f.Track.Kind() != Video {
		if len(s.gop) > 0 {
			s.appendGOPLocked(f)
		}
		return
	}
	if f.Key {
		s.clearGOPLocked()
		s.appendGOPLocked(f)
		return
	}
	if len(s.gop) > 0 {
		s.appendGOPLocked(f)
	}
}

func (s *Stream) appendGOPLocked(f *Frame) {
	if len(s.gop) >= maxGOPFrames || s.gopBytes+f.Size() > maxGOPBytes {
		// An endless GOP: give up on the cache rather than grow without bound.
		s.clearGOPLocked()
		return
	}
	s.gop = append(s.gop, f)
	s.gopBytes += f.Size()
}

func (s *Stream) clearGOPLocked() {
	clear(s.gop)
	s.gop = s.gop[:0]
	s.gopBytes = 0
}

// SetKeyframeRequester installs the function RequestKeyframe calls (the
// mixer's encoder, or a camera that supports it). It is called outside any
// lock of the stream.
func (s *Stream) SetKeyframeRequester(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyRequest = fn
}

// RequestKeyframe asks the writer for a keyframe, at most once per second;
// it reports whether the request was passed on.
func (s *Stream) RequestKeyframe() bool {
	s.mu.Lock()
	fn := s.keyRequest
	now := time.Now()
	if fn == nil || now.Sub(s.lastKeyReq) < keyframeRequestGap {
		s.mu.Unlock()
		return false
	}
	s.lastKeyReq = now
	s.mu.Unlock()
	fn()
	return true
}

// Close ends the stream: readers drain their queues and then get
// ErrStreamClosed. Writes after Close are ignored.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.clearGOPLocked()
	for _, r := range s.readers {
		r.closeFromStream()
	}
	s.readers = nil
}

// StreamStats are the writer's counters.
type StreamStats struct {
	Frames  uint64
	Bytes   uint64
	Readers int
}

// Stats returns the stream's counters.
func (s *Stream) Stats() StreamStats {
	s.mu.Lock()
	n := len(s.readers)
	s.mu.Unlock()
	return StreamStats{Frames: s.frames.Load(), Bytes: s.bytes.Load(), Readers: n}
}

// ReaderConfig tunes one reader.
type ReaderConfig struct {
	// Name identifies the reader in logs and stats.
	Name string
	// Queue is the number of frames the reader may fall behind before it
	// loses frames. Default DefaultReaderQueue.
	Queue int
	// FromKeyframe starts the reader with the cached frames since the last
	// keyframe, so a decoder can start at once. Otherwise the reader gets
	// only frames written after it was made.
	FromKeyframe bool
}

// NewReader adds a reader. Close it when done.
func (s *Stream) NewReader(cfg ReaderConfig) *Reader {
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultReaderQueue
	}
	r := &Reader{
		name:   cfg.Name,
		stream: s,
		ring:   make([]*Frame, cfg.Queue),
		wake:   make(chan struct{}, 1),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		r.streamDone = true
		return r
	}
	if cfg.FromKeyframe {
		if len(s.gop) > 0 && len(s.gop) <= len(r.ring) {
			for _, f := range s.gop {
				r.push(f)
			}
		} else {
			// No usable cache: wait for the next keyframe rather than hand
			// the decoder frames it cannot use.
			r.gate.Lose()
		}
	}
	s.readers = append(s.readers, r)
	return r
}

func (s *Stream) removeReader(r *Reader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.readers {
		if x == r {
			last := len(s.readers) - 1
			s.readers[i] = s.readers[last]
			s.readers[last] = nil
			s.readers = s.readers[:last]
			return
		}
	}
}

package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
)

// Reader is one consumer of a Stream with its own bounded queue. Read it from
// one goroutine.
type Reader struct {
	name   string
	stream *Stream

	mu         sync.Mutex
	ring       []*Frame
	head, n    int
	gate       KeyGate // video after a full queue waits for a keyframe
	streamDone bool
	closed     bool

	wake    chan struct{}
	dropped atomic.Uint64
	read    atomic.Uint64
}

// Name is the reader's name.
func (r *Reader) Name() string { return r.name }

// push queues a frame; called by the writer with the stream lock held. When
// the queue is full the frame is lost and, because a decoder cannot use video
// after a hole, the reader skips video until the next keyframe.
func (r *Reader) push(f *Frame) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	video := f.Track != nil && f.Track.Kind() == Video
	if video && !r.gate.Pass(f.Key) {
		r.mu.Unlock()
		r.dropped.Add(1)
		return
	}
	if r.n == len(r.ring) {
		if video {
			r.gate.Lose()
		}
		r.mu.Unlock()
		r.dropped.Add(1)
		return
	}
	r.ring[(r.head+r.n)%len(r.ring)] = f
	r.n++
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Reader) closeFromStream() {
	r.mu.Lock()
	r.streamDone = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// TryRead returns the next queued frame without waiting, or nil.
func (r *Reader) TryRead() *Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.popLocked()
}

// Poll is Read without waiting: the next queued frame; nil and no error
// when none is queued; ErrStreamClosed once the stream is closed and the
// queue drained, ErrReaderClosed after Close. For readers that wait on
// Wake alongside other work.
func (r *Reader) Poll() (*Frame, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrReaderClosed
	}
	if f := r.popLocked(); f != nil {
		return f, nil
	}
	if r.streamDone {
		return nil, ErrStreamClosed
	}
	return nil, nil
}

func (r *Reader) popLocked() *Frame {
	if r.n == 0 {
		return nil
	}
	f := r.ring[r.head]
	r.ring[r.head] = nil
	r.head = (r.head + 1) % len(r.ring)
	r.n--
	r.read.Add(1)
	return f
}

// Read waits for the next frame. It returns ErrStreamClosed once the stream
// is closed and the queue drained, ErrReaderClosed after Close, or the
// context's error.
func (r *Reader) Read(ctx context.Context) (*Frame, error) {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, ErrReaderClosed
		}
		if f := r.popLocked(); f != nil {
			r.mu.Unlock()
			return f, nil
		}
		done := r.streamDone
		r.mu.Unlock()
		if done {
			return nil, ErrStreamClosed
		}
		select {
		case <-r.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Wake returns a channel that receives when frames may be queued; for
// readers that select on several sources. Drain with TryRead after a wake.
func (r *Reader) Wake() <-chan struct{} { return r.wake }

// Close detaches the reader from its stream. A Read in progress returns
// ErrReaderClosed.
func (r *Reader) Close() {
	r.stream.removeReader(r)
	r.mu.Lock()
	r.closed = true
	clear(r.ring)
	r.n = 0
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// ReaderStats are one reader's counters.
type ReaderStats struct {
	Read    uint64 // frames handed to the reader
	Dropped uint64 // frames lost because the reader fell behind
	Queued  int    // frames waiting now
}

// Stats returns the reader's counters.
func (r *Reader) Stats() ReaderStats {
	r.mu.Lock()
	q := r.n
	r.mu.Unlock()
	return ReaderStats{Read: r.read.Load(), Dropped: r.dropped.Load(), Queued: q}
}

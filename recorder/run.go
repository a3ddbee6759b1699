package recorder

import (
	"errors"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"
)

// Run is one live run of a session being recorded into its own folder.
type Run struct {
	rec      *Recorder
	cfg      Config
	log      *slog.Logger
	id       string // "{session}/{stamp}"
	session  string
	dir      string
	started  time.Time
	manifest *manifestWriter
	fsyncs   *fsyncStats

	stopCh   chan struct{}
	wg       sync.WaitGroup // stream goroutines, and setup the seal must wait for
	stopOnce sync.Once
	stopErr  error

	mu       sync.Mutex
	streams  []*streamRecorder // by name: recording, leaving or gone
	stopping bool              // Stop has begun: no stream joins or leaves
	stopped  bool
	errs     []error
}

// StreamStatus is one stream's part of a run.
type StreamStatus struct {
	Stream    string `json:"stream"`
	State     string `json:"state"`
	File      string `json:"file,omitempty"`   // the open segment
	Reason    string `json:"reason,omitempty"` // why recording is stopped
	Segments  int    `json:"segments"`         // closed segments
	Bytes     int64  `json:"bytes"`            // in closed segments
	OpenBytes int64  `json:"open_bytes"`       // in the open segment
	Frames    uint64 `json:"frames"`           // taken from the stream
	Skipped   uint64 `json:"skipped"`          // not recorded: before a keyframe, disk stopped, unsupported codec
	Dropped   uint64 `json:"dropped"`          // lost because the recorder fell behind the stream
}

// RunStatus is what a session's status shows of its recording; Active, Run,
// Bytes and Segments are the recording fields of docs/api.md.
type RunStatus struct {
	Active      bool           `json:"active"`
	Run         string         `json:"run"` // "{session}/{stamp}"
	Dir         string         `json:"-"`
	Started     time.Time      `json:"started"`
	Bytes       int64          `json:"bytes"`
	Segments    int            `json:"segments"`
	DiskStopped bool           `json:"disk_stopped"`
	DiskReason  string         `json:"disk_reason,omitempty"`
	Streams     []StreamStatus `json:"streams"` // by name; removed ones stay, StateRemoved
	Fsync       FsyncStats     `json:"fsync"`
}

// ID is the run's name under the archive root: "{session}/{stamp}".
func (r *Run) ID() string { return r.id }

// Dir is the run's folder.
func (r *Run) Dir() string { return r.dir }

// Status reports the run as it is now.
func (r *Run) Status() RunStatus {
	r.mu.Lock()
	active := !r.stopped
	streams := slices.Clone(r.streams)
	r.mu.Unlock()
	st := RunStatus{Active: active, Run: r.id, Dir: r.dir, Started: r.started, Fsync: r.fsyncs.stats()}
	for _, s := range streams {
		ss := s.status()
		st.Streams = append(st.Streams, ss)
		st.Bytes += ss.Bytes + ss.OpenBytes
		st.Segments += ss.Segments
		if ss.State == StateDiskStopped && !st.DiskStopped {
			st.DiskStopped, st.DiskReason = true, ss.Reason
		}
	}
	return st
}

// Stop closes every open segment, writes the gaps still open and the seal
// (signed when a key is configured), and waits for the run's goroutines.
// It is safe to call more than once, and alongside AddStream and
// RemoveStream: a stream removed before Stop began gets its "removed" line
// before the seal; AddStream fails once Stop has begun.
func (r *Run) Stop() error { return r.stop(SealStopped) }

func (r *Run) stop(reason string) error {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.stopping = true
		r.mu.Unlock()
		close(r.stopCh)
		r.wg.Wait()
		if r.manifest == nil {
			// StartRun failed after the recorder's shutdown had found the run.
			r.mu.Lock()
			r.stopped = true
			r.stopErr = errors.New("the run never started")
			r.mu.Unlock()
			return
		}
		err := r.manifest.seal(r.rec.now(), reason, r.rec.signer)
		if cerr := r.manifest.close(); err == nil {
			err = cerr
		}
		r.mu.Lock()
		r.stopped = true
		r.stopErr = errors.Join(append(r.errs, err)...)
		r.mu.Unlock()
		r.rec.forget(r)
		if err != nil {
			r.log.Error("run stopped without its seal: it will be repaired at the next start", "err", err)
		} else {
			r.log.Info("run sealed", "reason", reason)
		}
	})
	return r.stopErr
}

// noteError keeps a manifest error for Stop to report; the last one is
// enough since lines wait and are retried in order.
func (r *Run) noteError(err error) {
	r.mu.Lock()
	if len(r.errs) < 8 {
		r.errs = append(r.errs, err)
	}
	r.mu.Unlock()
}

// FsyncStats summarises the fsync latency of a run's fragments.
type FsyncStats struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

// fsyncStats keeps the latest fsync latencies of a run.
type fsyncStats struct {
	mu    sync.Mutex
	ring  [1024]time.Duration
	n     int
	count int
	max   time.Duration
}

func (f *fsyncStats) add(d time.Duration) {
	f.mu.Lock()
	f.ring[f.count%len(f.ring)] = d
	f.count++
	f.n = min(f.n+1, len(f.ring))
	f.max = max(f.max, d)
	f.mu.Unlock()
}

func (f *fsyncStats) stats() FsyncStats {
	f.mu.Lock()
	s := slices.Clone(f.ring[:f.n])
	st := FsyncStats{Count: f.count, Max: f.max}
	f.mu.Unlock()
	if len(s) == 0 {
		return st
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	st.P50 = s[len(s)/2]
	st.P99 = s[min(len(s)-1, len(s)*99/100)]
	return st
}

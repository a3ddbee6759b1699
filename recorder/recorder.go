package recorder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"diemcau/internal/fielderr"
	"diemcau/pipeline"
)

// ErrClosed is returned by StartRun once the recorder's Run has returned.
var ErrClosed = errors.New("recorder closed")

// stampLayout names a run folder after its UTC start.
const stampLayout = "20060102T150405Z"

var stampRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$`)

// Recorder archives live runs under one root, repairs runs a crash left
// unfinished, and applies retention.
type Recorder struct {
	cfg       Config
	log       *slog.Logger
	signer    signer
	freeSpace FreeSpaceFunc
	now       func() time.Time
	guard     *diskGuard

	witness     Witness       // may be nil
	witnessErrs witnessErrors // failed reports, summarised
	results     VerifyResults // may be nil
	// syncDir fsyncs a folder after an entry in it was made, renamed or
	// removed; tests replace it to see which.
	syncDir func(dir string) error

	wg           sync.WaitGroup // goroutines of live runs
	flights      verifyFlights  // Recordings' verifications
	verifyPasses atomic.Int64
	hashedBytes  atomic.Int64

	// mu also orders the making of run folders against retention's removal
	// of empty session folders.
	mu     sync.Mutex
	live   map[string]*Run // by folder
	closed bool
	cache  map[string]verifyCacheEntry // by run id
}

// New checks the config and loads the signing key; it starts nothing.
func New(cfg Config, log *slog.Logger, opts ...Option) (*Recorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{
		cfg:       cfg,
		log:       log.With("component", "recorder"),
		freeSpace: statfsFree,
		now:       time.Now,
		live:      map[string]*Run{},
		cache:     map[string]verifyCacheEntry{},
		syncDir:   syncDir,
	}
	for _, o := range opts {
		o(r)
	}
	if cfg.SigningKey != "" {
		// Read here rather than in Run so that a bad key stops the server at
		// start instead of leaving the first run unsigned.
		if err := checkKeyFile(cfg.SigningKey); err != nil {
			return nil, fielderr.New("signing_key", "%w", err)
		}
		key, err := LoadSigningKey(cfg.SigningKey)
		if err != nil {
			return nil, fielderr.New("signing_key", "%w", err)
		}
		r.signer = signer{key: key}
	}
	r.guard = &diskGuard{root: cfg.Root, min: cfg.MinFree, free: r.freeSpace}
	return r, nil
}

// Root is the archive folder.
func (r *Recorder) Root() string { return r.cfg.Root }

// Run repairs runs left unfinished by a crash, then applies retention until
// ctx ends; then it stops (and seals) every live run and returns once their
// goroutines have exited.
func (r *Recorder) Run(ctx context.Context) error {
	defer r.shutdown()
	if err := os.MkdirAll(r.cfg.Root, 0o755); err != nil {
		return fielderr.New("root", "%w", err)
	}
	r.repairAll(ctx)
	var sweep <-chan time.Time
	if r.cfg.Retention > 0 {
		r.sweep()
		t := time.NewTicker(r.cfg.SweepEvery)
		defer t.Stop()
		sweep = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sweep:
			r.sweep()
		}
	}
}

func (r *Recorder) shutdown() {
	r.flights.close()
	r.mu.Lock()
	r.closed = true
	runs := slices.Collect(maps.Values(r.live))
	r.mu.Unlock()
	for _, run := range runs {
		run.stop(SealShutdown)
	}
	r.wg.Wait()
}

// StartRun starts recording a live run of a session into a new folder,
// {root}/{session}/{UTC start}/. streams are named "composite" or
// "sources/{id}"; each is read from its last keyframe on.
func (r *Recorder) StartRun(sessionID string, streams map[string]*pipeline.Stream) (*Run, error) {
	if !pipeline.ValidID(sessionID) {
		return nil, fmt.Errorf("recorder: session id %q: want %s", sessionID, pipeline.IDRule)
	}
	if len(streams) == 0 {
		return nil, fmt.Errorf("recorder: session %q: no streams to record", sessionID)
	}
	names := make([]string, 0, len(streams))
	for name, s := range streams {
		if !validStreamName(name) {
			return nil, fmt.Errorf("recorder: session %q: stream name %q: want \"composite\" or \"sources/{id}\"", sessionID, name)
		}
		if s == nil {
			return nil, fmt.Errorf("recorder: session %q: stream %q is nil", sessionID, name)
		}
		names = append(names, name)
	}
	slices.Sort(names)

	started := r.now().UTC()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	dir, id, made, err := r.makeRunDirLocked(sessionID, started)
	if err != nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("recorder: session %q: %w", sessionID, err)
	}
	run := &Run{
		rec: r, cfg: r.cfg, id: id, session: sessionID, dir: dir, started: started,
		log:    r.log.With("run", id),
		fsyncs: &fsyncStats{},
		stopCh: make(chan struct{}),
	}
	// Held until the streams run: the recorder's shutdown may find the run
	// in live and stop it meanwhile, and must not seal a run half set up.
	run.wg.Add(1)
	defer run.wg.Done()
	r.live[dir] = run
	r.mu.Unlock()

	// Synced outside the lock: the run is live, so retention leaves its
	// folder (and the session folder holding it) alone meanwhile.
	err = r.syncMade(made)
	if err == nil {
		err = r.prepareRun(run, names)
	}
	if err != nil {
		r.forget(run)
		os.RemoveAll(dir)
		return nil, fmt.Errorf("recorder: run %s: %w", id, err)
	}
	run.mu.Lock()
	for _, name := range names {
		s := newStreamRecorder(run, name, streams[name], started, nil)
		run.streams = append(run.streams, s)
		run.holdLocked()
		run.launch(s)
	}
	run.mu.Unlock()
	run.log.Info("run started", "dir", dir, "streams", names)
	return run, nil
}

func (r *Recorder) prepareRun(run *Run, names []string) error {
	for _, name := range names {
		if err := r.streamDir(run.dir, name); err != nil {
			return err
		}
	}
	m, err := createManifest(filepath.Join(run.dir, ManifestName), runJSON{
		Session:   run.session,
		Started:   fmtTime(run.started),
		Streams:   names,
		SegmentMS: r.cfg.Segment.Milliseconds(),
		PartMS:    r.cfg.Part.Milliseconds(),
		Format:    manifestFormat,
	}, r.witnessFor(run.id))
	if err != nil {
		return err
	}
	run.manifest = m
	// Always: the manifest's lines are always synced, and are worth
	// nothing if its name is lost.
	return r.syncDir(run.dir)
}

// makeRunDirLocked creates the run folder (and the session folder, if
// needed); a second run started in the same second gets a "-2" suffix
// rather than sharing a folder. made lists the folders whose parents must
// be synced for the new entries to outlast a crash. It is called under
// r.mu, which retention holds to remove an empty session folder.
func (r *Recorder) makeRunDirLocked(session string, started time.Time) (dir, id string, made []string, err error) {
	sessionDir := filepath.Join(r.cfg.Root, session)
	if _, err := os.Stat(r.cfg.Root); errors.Is(err, fs.ErrNotExist) {
		// StartRun before Run made the root.
		if err := os.MkdirAll(r.cfg.Root, 0o755); err != nil {
			return "", "", nil, err
		}
		made = append(made, r.cfg.Root)
	}
	more, err := makeDirs(r.cfg.Root, session)
	made = append(made, more...)
	if err != nil {
		return "", "", nil, err
	}
	stamp := started.Format(stampLayout)
	for i := 1; i < 100; i++ {
		name := stamp
		if i > 1 {
			name = fmt.Sprintf("%s-%d", stamp, i)
		}
		dir = filepath.Join(sessionDir, name)
		err = os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, session + "/" + name, append(made, dir), nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", "", nil, err
		}
	}
	return "", "", nil, fmt.Errorf("run folder %s: %w", stamp, err)
}

func (r *Recorder) forget(run *Run) {
	r.mu.Lock()
	delete(r.live, run.dir)
	r.mu.Unlock()
}

func (r *Recorder) isLive(dir string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.live[dir]
	return ok
}

// LiveRuns returns the runs being recorded now.
func (r *Recorder) LiveRuns() []*Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Collect(maps.Values(r.live))
	slices.SortFunc(out, func(a, b *Run) int { return strings.Compare(a.id, b.id) })
	return out
}

func validStreamName(name string) bool {
	if name == "composite" {
		return true
	}
	id, ok := strings.CutPrefix(name, "sources/")
	return ok && pipeline.ValidID(id)
}

// runDirs lists the run folders of the archive: {root}/{session}/{stamp}.
func runDirs(root string) ([]string, error) {
	sessions, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range sessions {
		if !s.IsDir() || !pipeline.ValidID(s.Name()) {
			continue
		}
		runs, err := os.ReadDir(filepath.Join(root, s.Name()))
		if err != nil {
			return nil, err
		}
		for _, run := range runs {
			if run.IsDir() && stampRE.MatchString(run.Name()) {
				out = append(out, filepath.Join(root, s.Name(), run.Name()))
			}
		}
	}
	return out, nil
}

// streamDir makes a stream's folder inside the run, each new folder's
// name synced into its parent (sources/{id} into sources/, sources/ into
// the run), whatever archive.fsync says: a segment's fragments may be
// synced, but without its folder's name they are lost.
func (r *Recorder) streamDir(runDir, name string) error {
	made, err := makeDirs(runDir, filepath.FromSlash(name))
	if err != nil {
		return err
	}
	return r.syncMade(made)
}

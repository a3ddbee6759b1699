package recorder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// memResults is the store's keeping of verifications, in memory.
type memResults struct {
	mu    sync.Mutex
	m     map[string]memResult
	saves int
}

type memResult struct {
	fp string
	st VerifyState
}

func (s *memResults) LoadVerify(_ context.Context, run string) (string, VerifyState, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[run]
	return r.fp, r.st, ok, nil
}

func (s *memResults) SaveVerify(_ context.Context, run, fp string, st VerifyState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]memResult{}
	}
	s.m[run] = memResult{fp, st}
	s.saves++
	return nil
}

// bigRun writes a sealed run whose one composite segment is size bytes of
// a sparse file: hashing it takes a while, writing it does not. The
// segment is not a real MP4, so verify reports it; what is measured here
// is the hashing.
func bigRun(t *testing.T, root, stamp string, size int64, witness func(ManifestWitness)) string {
	t.Helper()
	dir := filepath.Join(root, "big", stamp)
	if err := os.MkdirAll(filepath.Join(dir, "composite"), 0o755); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "composite", "000001.mp4")
	f, err := os.Create(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	m, err := createManifest(filepath.Join(dir, ManifestName), runJSON{Session: "big", Started: fmtTime(at), Streams: []string{"composite"}, Format: manifestFormat}, witness)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.addSegment("composite", segmentResult{File: "composite/000001.mp4", Start: at, DurationMS: 1000, Bytes: size, SHA256: strings.Repeat("0", 64)}); err != nil {
		t.Fatal(err)
	}
	if err := m.seal(at, SealStopped, signer{}); err != nil {
		t.Fatal(err)
	}
	m.close()
	return dir
}

// N concurrent list calls hash each run once between them.
func TestRecordingsOneVerificationPerRun(t *testing.T) {
	root := t.TempDir()
	const runs, callers, size = 3, 8, 256 << 20
	for i := range runs {
		bigRun(t, root, "20260301T08000"+string(rune('0'+i))+"Z", size, nil)
	}
	rec := startRecorder(t, Config{Root: root})
	ctx := testContext(t, 2*time.Minute)
	var wg sync.WaitGroup
	results := make([][]RunInfo, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = rec.Recordings(ctx, "big")
		}()
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || len(results[i]) != runs || results[i][0].Verify.State != "problems" {
			t.Fatalf("caller %d: %v, %+v", i, errs[i], results[i])
		}
	}
	if st := rec.VerifyStats(); st.Passes != runs || st.HashedBytes != runs*size {
		t.Fatalf("%d concurrent calls: %d hash passes, %d bytes hashed; want %d and %d", callers, st.Passes, st.HashedBytes, runs, runs*size)
	}
	if _, err := rec.Recordings(ctx, "big"); err != nil || rec.VerifyStats().Passes != runs {
		t.Fatalf("a later call hashed again: %v, %+v", err, rec.VerifyStats())
	}
}

// A verification stops when the last caller waiting for it has gone; not
// while another still waits.
func TestRecordingsCancelStopsHashing(t *testing.T) {
	root := t.TempDir()
	const size = 8 << 30
	bigRun(t, root, "20260301T080000Z", size, nil)
	rec := startRecorder(t, Config{Root: root})
	hashing := func() bool { return rec.VerifyStats().HashedBytes > 0 }

	ctxA, cancelA := context.WithCancel(context.Background())
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	go func() { _, err := rec.Recordings(ctxA, "big"); doneA <- err }()
	waitFor(t, "hashing to start", hashing, nil)
	go func() { _, err := rec.Recordings(ctxB, "big"); doneB <- err }()
	waitFor(t, "the second caller to join", func() bool {
		rec.flights.mu.Lock()
		defer rec.flights.mu.Unlock()
		f := rec.flights.m["big/20260301T080000Z"]
		return f != nil && f.waiters == 2
	}, nil)

	cancelA()
	if err := <-doneA; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	before := rec.VerifyStats().HashedBytes
	waitFor(t, "hashing to go on for the caller still waiting", func() bool { return rec.VerifyStats().HashedBytes > before+64<<20 }, nil)

	cancelB()
	if err := <-doneB; !errors.Is(err, context.Canceled) {
		t.Fatalf("second caller: %v", err)
	}
	rec.flights.wg.Wait() // the verification has returned
	stopped := rec.VerifyStats().HashedBytes
	time.Sleep(200 * time.Millisecond)
	if now := rec.VerifyStats().HashedBytes; now != stopped || stopped >= size {
		t.Fatalf("hashing went on after every caller left: %d then %d bytes of %d", stopped, now, size)
	}
	t.Logf("stopped after %d MiB of %d", stopped>>20, size>>20)
	rec.mu.Lock()
	_, cached := rec.cache["big/20260301T080000Z"]
	rec.mu.Unlock()
	if cached {
		t.Error("a cancelled verification was remembered")
	}
}

// After a restart the stored result is used without hashing; a changed
// file, or a witness that moved, is verified again.
func TestRecordingsKeptAcrossRestart(t *testing.T) {
	root := t.TempDir()
	results := &memResults{}
	w := newMemWitness()
	dir := bigRun(t, root, "20260301T080000Z", 1<<20, func(mw ManifestWitness) {
		w.WitnessManifest(context.Background(), "big/20260301T080000Z", mw)
	})
	ctx := testContext(t, time.Minute)
	list := func(rec *Recorder) VerifyState {
		t.Helper()
		runs, err := rec.Recordings(ctx, "big")
		if err != nil || len(runs) != 1 {
			t.Fatalf("%v %+v", err, runs)
		}
		return runs[0].Verify
	}
	first := list(startRecorder(t, Config{Root: root}, WithVerifyResults(results), WithWitness(w)))
	if first.Witness != WitnessAgrees || results.saves != 1 {
		t.Fatalf("first verification: %+v, %d saved", first, results.saves)
	}

	rec := startRecorder(t, Config{Root: root}, WithVerifyResults(results), WithWitness(w))
	if got := list(rec); rec.VerifyStats().Passes != 0 || !got.CheckedAt.Equal(first.CheckedAt) || got.State != first.State {
		t.Fatalf("after a restart: %d hash passes, %+v; want none, %+v", rec.VerifyStats().Passes, got, first)
	}

	editFile(t, filepath.Join(dir, "composite", "000001.mp4"), func(b []byte) []byte { b[10] = 1; return b })
	if list(rec); rec.VerifyStats().Passes != 1 {
		t.Fatalf("a changed segment was not verified again: %d passes", rec.VerifyStats().Passes)
	}

	// The witness says the manifest was longer: the list reports it.
	mw, _ := w.get("big/20260301T080000Z")
	mw.Lines++
	w.WitnessManifest(ctx, "big/20260301T080000Z", mw)
	got := list(rec)
	if rec.VerifyStats().Passes != 2 || got.Witness != WitnessDisagrees || !strings.Contains(strings.Join(got.Problems, "\n"), "manifest truncated: witness has 4 lines sealed, file has 3 sealed") {
		t.Fatalf("after the witness moved: %d passes, %+v", rec.VerifyStats().Passes, got)
	}
}

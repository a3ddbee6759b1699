package recorder

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"diemcau/pipeline"
)

// witnessTimeout bounds one report to the witness: a store that hangs must
// not hold a stream's manifest lines up for long.
const witnessTimeout = 5 * time.Second

// ManifestWitness is what a run's manifest.jsonl was when its last line
// reached the disk: how many lines, the sha256 of the last one, and whether
// that line was the seal. Kept outside the archive, it shows a manifest
// that was cut short or rewritten even when its own chain still holds
// (a tail removed with its seal leaves a valid, unsealed chain).
type ManifestWitness struct {
	Lines    int
	LastHash string
	Sealed   bool
}

func (w ManifestWitness) String() string {
	return fmt.Sprintf("%d lines %s", w.Lines, sealedWord(w.Sealed))
}

func sealedWord(sealed bool) string {
	if sealed {
		return "sealed"
	}
	return "unsealed"
}

// Witness keeps each run's ManifestWitness outside the archive (the
// server's store). run is "{session}/{stamp}" (RunInfo.ID).
type Witness interface {
	// WitnessManifest records w after a line reached the disk; calls for
	// one run come in the order the lines were written.
	WitnessManifest(ctx context.Context, run string, w ManifestWitness) error
	// ManifestWitness returns the last record; found is false if there is
	// none (a run recorded before the witness, or by another server).
	ManifestWitness(ctx context.Context, run string) (w ManifestWitness, found bool, err error)
	// RunRemoved says retention deleted the run.
	RunRemoved(ctx context.Context, run string) error
}

// VerifyResults keeps verification results across restarts, so that a
// restart does not hash every archive again. fingerprint names what was
// verified (file sizes, times and identities, the witness, the key); a
// stored result with another fingerprint is stale.
type VerifyResults interface {
	LoadVerify(ctx context.Context, run string) (fingerprint string, st VerifyState, found bool, err error)
	SaveVerify(ctx context.Context, run, fingerprint string, st VerifyState) error
}

// WithWitness makes the recorder report every manifest line to w, consult
// it before repairing a run, and check runs against it in Recordings.
func WithWitness(w Witness) Option { return func(r *Recorder) { r.witness = w } }

// WithVerifyResults keeps Recordings' verification results in v.
func WithVerifyResults(v VerifyResults) Option { return func(r *Recorder) { r.results = v } }

// RunIDOf names the run in a run folder, "{session}/{stamp}" (RunInfo.ID),
// as the witness knows it; the folder may be an exported copy.
func RunIDOf(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	session, stamp := filepath.Base(filepath.Dir(abs)), filepath.Base(abs)
	if !pipeline.ValidID(session) || !stampRE.MatchString(stamp) {
		return "", fmt.Errorf("%s is not a run folder ({session}/{YYYYMMDDTHHMMSSZ})", dir)
	}
	return session + "/" + stamp, nil
}

// runID is a run folder's name under the root: "{session}/{stamp}".
func runID(dir string) string {
	return filepath.Base(filepath.Dir(dir)) + "/" + filepath.Base(dir)
}

// witnessFor returns the callback a run's manifest writer reports its
// lines to; nil without a witness.
func (r *Recorder) witnessFor(run string) func(ManifestWitness) {
	if r.witness == nil {
		return nil
	}
	return func(w ManifestWitness) {
		ctx, cancel := context.WithTimeout(context.Background(), witnessTimeout)
		defer cancel()
		r.witnessErrs.note(r, run, r.witness.WitnessManifest(ctx, run, w))
	}
}

// lookupWitness returns the witness's record of a run; checked is false
// when the recorder has no witness.
func (r *Recorder) lookupWitness(ctx context.Context, run string) (w *ManifestWitness, checked bool, err error) {
	if r.witness == nil {
		return nil, false, nil
	}
	got, found, err := r.witness.ManifestWitness(ctx, run)
	if err != nil {
		return nil, true, fmt.Errorf("witness of run %s: %w", run, err)
	}
	if !found {
		return nil, true, nil
	}
	return &got, true, nil
}

// witnessErrors summarises failed reports to the witness: the first of a
// streak is logged, then one line with the count when it works again.
type witnessErrors struct {
	mu     sync.Mutex
	failed int
	last   error
}

func (e *witnessErrors) note(r *Recorder, run string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		if e.failed == 0 {
			r.log.Error("witness: a manifest line was not recorded in the store; verify will report the run", "run", run, "err", err)
		}
		e.failed++
		e.last = err
		return
	}
	if e.failed > 0 {
		r.log.Info("witness: recording again", "failed", e.failed, "last_err", e.last)
		e.failed, e.last = 0, nil
	}
}

// witnessDisagreement compares a manifest's whole lines with the witness's
// record; "" when the file holds the witnessed line. ahead allows a file
// longer than the record (a live run, or a crash between a line's fsync and
// its report).
func witnessDisagreement(lines []manifestLine, w ManifestWitness, ahead bool) string {
	sealed := false
	for i := range lines {
		sealed = sealed || (lines[i].err == nil && lines[i].line.Seal != nil)
	}
	file := fmt.Sprintf("file has %d %s", len(lines), sealedWord(sealed))
	switch {
	case w.Lines < 1:
		return fmt.Sprintf("the witness record is empty (%d lines)", w.Lines)
	case len(lines) < w.Lines:
		return fmt.Sprintf("manifest truncated: witness has %s, %s", w, file)
	case lines[w.Lines-1].hash != w.LastHash:
		return fmt.Sprintf("manifest rewritten: line %d is not the line the witness recorded (witness has %s, %s)", w.Lines, w, file)
	case len(lines) > w.Lines && w.Sealed:
		return fmt.Sprintf("manifest extended after its seal: witness has %s, %s", w, file)
	case len(lines) > w.Lines && !ahead:
		return fmt.Sprintf("manifest has lines the witness never recorded: witness has %s, %s", w, file)
	}
	return ""
}

package recorder

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"time"
)

// saveTimeout bounds storing a verification result once it is done, when
// the request that asked for it may be gone.
const saveTimeout = 5 * time.Second

// verifyCacheEntry remembers a run's verification until its files change.
type verifyCacheEntry struct {
	fingerprint string
	state       VerifyState
}

// verifyRun returns a run's verify state: remembered, stored, or from one
// verification shared by every caller asking meanwhile.
func (r *Recorder) verifyRun(ctx context.Context, id, dir string) (VerifyState, error) {
	wit, checkWit, err := r.lookupWitness(ctx, id)
	if err != nil {
		return VerifyState{}, err
	}
	fp, err := r.fingerprint(dir, wit, checkWit)
	if err != nil {
		return VerifyState{}, err
	}
	r.mu.Lock()
	e, ok := r.cache[id]
	r.mu.Unlock()
	if ok && e.fingerprint == fp {
		return e.state, nil
	}
	if r.results != nil {
		stored, st, found, err := r.results.LoadVerify(ctx, id)
		if err != nil {
			r.log.Warn("stored verification not read; verifying again", "run", id, "err", err)
		} else if found && stored == fp {
			r.remember(id, fp, st)
			return st, nil
		}
	}
	return r.flights.do(ctx, id, func(ctx context.Context) (VerifyState, error) {
		return r.verifyNow(ctx, id, dir, fp, wit, checkWit)
	})
}

// verifyNow hashes the run, then remembers and stores the result.
func (r *Recorder) verifyNow(ctx context.Context, id, dir, fp string, wit *ManifestWitness, checkWit bool) (VerifyState, error) {
	r.verifyPasses.Add(1)
	rep, err := VerifyContext(ctx, dir, VerifyOptions{
		Key: r.publicKey(), CheckWitness: checkWit, Witness: wit, hashed: &r.hashedBytes,
	})
	if err != nil {
		return VerifyState{}, err
	}
	st := VerifyState{State: "ok", CheckedAt: r.now().UTC().Round(time.Millisecond), Witness: rep.Witness}
	if !rep.OK() {
		st.State = "problems"
		for _, p := range rep.Problems {
			st.Problems = append(st.Problems, p.String())
		}
	}
	r.remember(id, fp, st)
	if r.results != nil {
		sctx, cancel := context.WithTimeout(context.Background(), saveTimeout)
		defer cancel()
		if err := r.results.SaveVerify(sctx, id, fp, st); err != nil {
			r.log.Warn("verification not stored: it will be done again after a restart", "run", id, "err", err)
		}
	}
	return st, nil
}

func (r *Recorder) remember(id, fp string, st VerifyState) {
	r.mu.Lock()
	r.cache[id] = verifyCacheEntry{fingerprint: fp, state: st}
	r.mu.Unlock()
}

func (r *Recorder) publicKey() ed25519.PublicKey {
	if r.signer.key == nil {
		return nil
	}
	return r.signer.key.Public().(ed25519.PublicKey)
}

// VerifyStats counts the verification Recordings did since New.
type VerifyStats struct {
	Passes      int64 // verifications that hashed a run
	HashedBytes int64 // bytes they read
}

// VerifyStats reports the hashing done for Recordings.
func (r *Recorder) VerifyStats() VerifyStats {
	return VerifyStats{Passes: r.verifyPasses.Load(), HashedBytes: r.hashedBytes.Load()}
}

// fingerprint names a run as verified: every file's name, size, mode,
// modification time and (where the system has them) inode and change time,
// which a hand cannot set back, plus the witness's record and the key.
func (r *Recorder) fingerprint(dir string, wit *ManifestWitness, checkWit bool) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "key %x\nwitness %v", r.publicKey(), checkWit)
	if wit != nil {
		fmt.Fprintf(h, " %d %s %v", wit.Lines, wit.LastHash, wit.Sealed)
	}
	h.Write([]byte("\n"))
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%q %d %d %v %s\n", rel, info.Size(), info.ModTime().UnixNano(), info.Mode(), changeStamp(info))
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// verifyFlights runs one verification per run at a time for every caller
// that asks meanwhile; one nobody waits for any more is cancelled.
type verifyFlights struct {
	mu     sync.Mutex
	m      map[string]*verifyFlight
	wg     sync.WaitGroup
	closed bool
}

type verifyFlight struct {
	done    chan struct{}
	waiters int
	cancel  context.CancelFunc
	st      VerifyState
	err     error
}

// do returns fn's result for key, started by this call or shared with
// one in flight.
func (g *verifyFlights) do(ctx context.Context, key string, fn func(context.Context) (VerifyState, error)) (VerifyState, error) {
	g.mu.Lock()
	if g.closed {
		// The recorder has stopped: no goroutine may outlive its Run.
		g.mu.Unlock()
		return fn(ctx)
	}
	if g.m == nil {
		g.m = map[string]*verifyFlight{}
	}
	f, ok := g.m[key]
	if !ok {
		fctx, cancel := context.WithCancel(context.Background())
		f = &verifyFlight{done: make(chan struct{}), cancel: cancel}
		g.m[key] = f
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			f.st, f.err = fn(fctx)
			cancel()
			g.mu.Lock()
			if g.m[key] == f {
				delete(g.m, key)
			}
			g.mu.Unlock()
			close(f.done)
		}()
	}
	f.waiters++
	g.mu.Unlock()

	select {
	case <-f.done:
		return f.st, f.err
	case <-ctx.Done():
		g.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.cancel()
			if g.m[key] == f {
				delete(g.m, key) // the next caller starts afresh
			}
		}
		g.mu.Unlock()
		return VerifyState{}, ctx.Err()
	}
}

// close cancels the flights and waits for them.
func (g *verifyFlights) close() {
	g.mu.Lock()
	g.closed = true
	for _, f := range g.m {
		f.cancel()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

package recorder

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"diemcau/pipeline"
)

// deletingSuffix marks a run folder retention is deleting: renamed first
// (and the rename synced), so that a crash halfway through leaves a folder
// nothing takes for a run, rather than a run with files missing.
const deletingSuffix = ".deleting"

// sweep deletes whole runs whose last write is older than the retention;
// never a live run, never anything that is not a run folder.
func (r *Recorder) sweep() {
	r.clearDeleting()
	dirs, err := runDirs(r.cfg.Root)
	if err != nil {
		r.log.Error("retention: listing runs", "err", err)
		return
	}
	now := r.now()
	for _, dir := range dirs {
		if r.isLive(dir) {
			continue
		}
		last, err := lastWrite(dir)
		if err != nil {
			r.log.Error("retention: reading run", "dir", dir, "err", err)
			continue
		}
		age := now.Sub(last)
		if age <= r.cfg.Retention {
			continue
		}
		if err := r.deleteRun(dir); err != nil {
			r.log.Error("retention: deleting run", "dir", dir, "err", err)
			continue
		}
		r.log.Info("retention: run deleted", "dir", dir, "age", age.Round(time.Second), "retention", r.cfg.Retention)
		r.removeSessionIfEmpty(filepath.Dir(dir))
	}
}

// deleteRun renames a run folder out of the way, syncs the rename, then
// removes it.
func (r *Recorder) deleteRun(dir string) error {
	id := runID(dir)
	trash := filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+deletingSuffix)
	if err := os.Rename(dir, trash); err != nil {
		return err
	}
	if err := r.syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.cache, id)
	r.mu.Unlock()
	if r.witness != nil {
		ctx, cancel := context.WithTimeout(context.Background(), witnessTimeout)
		defer cancel()
		if err := r.witness.RunRemoved(ctx, id); err != nil {
			r.log.Warn("retention: the store was not told of the deletion", "run", id, "err", err)
		}
	}
	if err := os.RemoveAll(trash); err != nil {
		return err
	}
	return r.syncDir(filepath.Dir(dir))
}

// removeSessionIfEmpty removes a session folder left empty. Under r.mu, so
// that a run starting in it meanwhile either finds it gone and makes it
// again, or has its own folder in it already and keeps it.
func (r *Recorder) removeSessionIfEmpty(sessionDir string) {
	r.mu.Lock()
	err := os.Remove(sessionDir) // fails unless empty
	r.mu.Unlock()
	if err == nil {
		if err := r.syncDir(filepath.Dir(sessionDir)); err != nil {
			r.log.Warn("retention: syncing the archive root", "err", err)
		}
	}
}

// clearDeleting finishes deletions a crash interrupted.
func (r *Recorder) clearDeleting() {
	sessions, err := os.ReadDir(r.cfg.Root)
	if err != nil {
		return
	}
	for _, s := range sessions {
		if !s.IsDir() || !pipeline.ValidID(s.Name()) {
			continue
		}
		sdir := filepath.Join(r.cfg.Root, s.Name())
		entries, err := os.ReadDir(sdir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			n := e.Name()
			if !e.IsDir() || !strings.HasPrefix(n, ".") || !strings.HasSuffix(n, deletingSuffix) ||
				!stampRE.MatchString(strings.TrimSuffix(n[1:], deletingSuffix)) {
				continue
			}
			if err := os.RemoveAll(filepath.Join(sdir, n)); err != nil {
				r.log.Error("retention: finishing an interrupted deletion", "dir", n, "err", err)
				continue
			}
			r.log.Info("retention: finished a deletion a crash interrupted", "dir", filepath.Join(sdir, n))
		}
		r.removeSessionIfEmpty(sdir)
	}
}

// lastWrite is when a run last changed: its manifest's time (the manifest
// is written last, at the seal), else the folder's.
func lastWrite(dir string) (time.Time, error) {
	st, err := os.Stat(filepath.Join(dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		st, err = os.Stat(dir)
	}
	if err != nil {
		return time.Time{}, err
	}
	return st.ModTime(), nil
}

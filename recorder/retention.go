package recorder

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// sweep deletes whole runs whose last write is older than the retention;
// never a live run, never anything that is not a run folder.
func (r *Recorder) sweep() {
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
		if err := os.RemoveAll(dir); err != nil {
			r.log.Error("retention: deleting run", "dir", dir, "err", err)
			continue
		}
		r.mu.Lock()
		delete(r.cache, dir)
		r.mu.Unlock()
		r.log.Info("retention: run deleted", "dir", dir, "age", age.Round(time.Second), "retention", r.cfg.Retention)
		os.Remove(filepath.Dir(dir)) // the session folder, if now empty
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

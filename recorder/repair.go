package recorder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

var segmentFileRE = regexp.MustCompile(`^[0-9]{6}\.mp4$`)

// repairReport says what repairing an interrupted run did.
type repairReport struct {
	Recovered []string // segments given their manifest line
	Truncated []string // of those, cut back to their last complete fragment
	Discarded []string // files without one complete fragment, removed
}

// repairAll finishes the runs a crash left without a seal.
func (r *Recorder) repairAll() {
	dirs, err := runDirs(r.cfg.Root)
	if err != nil {
		r.log.Error("looking for interrupted runs", "err", err)
		return
	}
	for _, dir := range dirs {
		if r.isLive(dir) {
			continue
		}
		rep, err := r.repairRun(dir)
		if err != nil {
			r.log.Error("repairing an interrupted run", "dir", dir, "err", err)
			continue
		}
		if rep != nil {
			r.log.Warn("repaired a run interrupted by a crash", "dir", dir,
				"recovered", len(rep.Recovered), "truncated", rep.Truncated, "discarded", rep.Discarded)
		}
	}
}

// repairRun gives an unsealed run's segments their manifest lines (cutting
// a torn last fragment off), records the interruption and seals the run. It
// returns nil, nil for a run that is already sealed.
func (r *Recorder) repairRun(dir string) (*repairReport, error) {
	mpath := filepath.Join(dir, ManifestName)
	var m *manifestWriter
	var files []string
	lastWrite := time.Time{}
	if st, err := os.Stat(mpath); errors.Is(err, fs.ErrNotExist) {
		if files, err = segmentFiles(dir); err != nil {
			return nil, err
		}
		if m, err = r.recreateManifest(dir, mpath, files); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	} else {
		lastWrite = st.ModTime()
		if m, err = openManifest(mpath); err != nil {
			return nil, err
		}
		if m.sealed {
			return nil, m.close()
		}
		if files, err = segmentFiles(dir); err != nil {
			m.close()
			return nil, err
		}
	}
	lines, _, err := readManifest(mpath)
	if err != nil {
		m.close()
		return nil, err
	}
	listed := map[string]bool{}
	for _, l := range lines {
		if l.line.File != nil {
			listed[*l.line.File] = true
		}
	}

	type found struct {
		file  string
		start time.Time
		res   segmentResult
	}
	rep := &repairReport{}
	var segs []found
	for _, file := range files {
		if listed[file] {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(file))
		st, err := os.Stat(p)
		if err != nil {
			m.close()
			return nil, err
		}
		lastWrite = later(lastWrite, st.ModTime())
		sc, err := scanSegment(p)
		if err != nil {
			m.close()
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if sc.fragments == 0 {
			if err := os.Remove(p); err != nil {
				m.close()
				return nil, err
			}
			rep.Discarded = append(rep.Discarded, file)
			continue
		}
		if sc.validEnd < sc.size {
			if err := truncateSync(p, sc.validEnd); err != nil {
				m.close()
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			rep.Truncated = append(rep.Truncated, file)
			if sc, err = scanSegment(p); err != nil {
				m.close()
				return nil, fmt.Errorf("%s: %w", file, err)
			}
		}
		start := sc.wall
		if start.IsZero() {
			start = st.ModTime().Add(-time.Duration(sc.durationMS()) * time.Millisecond)
		}
		segs = append(segs, found{file: file, start: start, res: segmentResult{
			File: file, Start: start, DurationMS: sc.durationMS(), Bytes: sc.size, SHA256: sc.sha256,
		}})
	}
	slices.SortStableFunc(segs, func(a, b found) int { return a.start.Compare(b.start) })
	var errs []error
	for _, s := range segs {
		errs = append(errs, m.addSegment(path.Dir(s.file), s.res))
		rep.Recovered = append(rep.Recovered, s.file)
	}
	if lastWrite.IsZero() {
		lastWrite = r.now()
	}
	errs = append(errs,
		m.addInterruption(interruptionJSON{
			LastWrite: fmtTime(lastWrite), Detected: fmtTime(r.now()),
			Recovered: rep.Recovered, Truncated: rep.Truncated, Discarded: rep.Discarded,
		}),
		m.seal(r.now(), SealInterrupted, r.signer),
		m.close(),
	)
	return rep, errors.Join(errs...)
}

// recreateManifest starts the manifest of a run that crashed before its
// first line reached the disk.
func (r *Recorder) recreateManifest(dir, mpath string, files []string) (*manifestWriter, error) {
	stamp := filepath.Base(dir)
	started, err := time.Parse(stampLayout, stamp[:len(stampLayout)])
	if err != nil {
		return nil, err
	}
	var streams []string
	for _, f := range files {
		if s := path.Dir(f); !slices.Contains(streams, s) {
			streams = append(streams, s)
		}
	}
	return createManifest(mpath, runJSON{
		Session: filepath.Base(filepath.Dir(dir)), Started: fmtTime(started), Streams: streams,
		SegmentMS: r.cfg.Segment.Milliseconds(), PartMS: r.cfg.Part.Milliseconds(), Format: manifestFormat,
	})
}

// segmentFiles lists a run's segment files, relative and slash-separated:
// composite/NNNNNN.mp4 and sources/{id}/NNNNNN.mp4, in name order.
func segmentFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if validStreamName(path.Dir(rel)) && segmentFileRE.MatchString(path.Base(rel)) {
			out = append(out, rel)
		}
		return nil
	})
	slices.SortFunc(out, strings.Compare)
	return out, err
}

func truncateSync(p string, size int64) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

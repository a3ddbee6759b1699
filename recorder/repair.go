package recorder

import (
	"context"
	"encoding/base64"
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

// maxTornLine bounds a torn last line: the recorder writes a line in one
// write of a few hundred bytes, so more bytes without a newline are not a
// crash's doing.
const maxTornLine = 64 << 10

// repairReport says what repairing an interrupted run did, or why it would
// not.
type repairReport struct {
	Recovered []string // segments given their manifest line
	Truncated []string // of those, cut back to their last complete fragment
	Discarded []string // files without one complete fragment, removed
	Torn      int      // bytes of a torn last manifest line cut off (kept in the interruption line)
	// Refused lists the signs that the run was not simply interrupted
	// (tampering or damage); the run was left exactly as found.
	Refused []string
}

// repairAll finishes the runs a crash left without a seal.
func (r *Recorder) repairAll(ctx context.Context) {
	dirs, err := runDirs(r.cfg.Root)
	if err != nil {
		r.log.Error("looking for interrupted runs", "err", err)
		return
	}
	for _, dir := range dirs {
		if ctx.Err() != nil {
			return
		}
		if r.isLive(dir) {
			continue
		}
		rep, err := r.repairRun(ctx, dir)
		switch {
		case err != nil:
			r.log.Error("repairing an interrupted run", "dir", dir, "err", err)
		case rep == nil:
		case len(rep.Refused) > 0:
			r.log.Error("run not repaired: it shows more than a crash, so it is left as found for verify to report",
				"dir", dir, "evidence", strings.Join(rep.Refused, "; "))
		default:
			r.log.Warn("repaired a run interrupted by a crash", "dir", dir, "recovered", len(rep.Recovered),
				"truncated", rep.Truncated, "discarded", rep.Discarded, "torn_bytes", rep.Torn)
		}
	}
}

// repairRun gives the segments an unsealed run was writing when it crashed
// their manifest lines (cutting a torn last fragment off), records the
// interruption and seals the run. It returns nil, nil for a sealed run,
// and a report with Refused, having changed nothing, for a run that shows
// more than a crash: a manifest line that is not one (other than a torn
// last line), a broken chain, a manifest that disagrees with the witness,
// a run the witness saw sealed, or segment files a crash cannot explain.
func (r *Recorder) repairRun(ctx context.Context, dir string) (*repairReport, error) {
	wit, _, err := r.lookupWitness(ctx, runID(dir))
	if err != nil {
		return nil, err
	}
	mpath := filepath.Join(dir, ManifestName)
	files, err := segmentFiles(dir)
	if err != nil {
		return nil, err
	}
	lines, torn, err := readManifest(mpath)
	if errors.Is(err, fs.ErrNotExist) {
		return r.repairWithoutManifest(ctx, dir, mpath, wit, files)
	}
	if err != nil {
		return nil, err
	}
	var tornRaw []byte
	if torn {
		tornRaw = lines[len(lines)-1].raw
		lines = lines[:len(lines)-1]
	}
	st := readRunState(lines)
	if st.sealed || isSealLine(tornRaw) {
		// Never sealed twice: what is wrong with a sealed run is verify's
		// to report, not repair's to paper over.
		return nil, nil
	}
	ev := st.evidence
	if wit != nil {
		if wit.Sealed {
			ev.add("the witness recorded this run sealed (%s); its manifest has %d lines and no seal", wit, len(lines))
		} else if d := witnessDisagreement(lines, *wit, true); d != "" {
			ev.add("%s", d)
		}
	}
	if len(tornRaw) > maxTornLine {
		ev.add("%d bytes after line %d without a newline: more than a line torn by a crash", len(tornRaw), len(lines))
	}
	adopt := st.crashSegments(dir, files, &ev)
	if len(ev) > 0 {
		return &repairReport{Refused: ev.list()}, nil
	}
	// The manifest's own time, before cutting a torn line changes it.
	var lastWrite time.Time
	if mst, err := os.Stat(mpath); err == nil {
		lastWrite = mst.ModTime()
	}
	m, err := appendManifest(mpath, lines, len(tornRaw), r.witnessFor(runID(dir)))
	if err != nil {
		return nil, err
	}
	rep := &repairReport{Torn: len(tornRaw)}
	return rep, r.finishRepair(ctx, dir, m, adopt, rep, lastWrite, tornRaw)
}

// repairWithoutManifest seals a run folder a crash left before its run
// line reached the disk: then no segment can have been written either.
func (r *Recorder) repairWithoutManifest(ctx context.Context, dir, mpath string, wit *ManifestWitness, files []string) (*repairReport, error) {
	var ev evidence
	if wit != nil {
		ev.add("%s is missing: the witness recorded %s", ManifestName, wit)
	}
	if len(files) > 0 {
		ev.add("%s is missing but %d segment files are there: a crash cannot lose it, its first line is synced before any segment is written",
			ManifestName, len(files))
	}
	if len(ev) > 0 {
		return &repairReport{Refused: ev.list()}, nil
	}
	m, err := r.recreateManifest(dir, mpath)
	if err != nil {
		return nil, err
	}
	rep := &repairReport{}
	return rep, r.finishRepair(ctx, dir, m, nil, rep, time.Time{}, nil)
}

// finishRepair writes the crash segments' lines, the interruption and the
// seal.
func (r *Recorder) finishRepair(ctx context.Context, dir string, m *manifestWriter, adopt []string, rep *repairReport, lastWrite time.Time, torn []byte) error {
	type found struct {
		file  string
		start time.Time
		res   segmentResult
	}
	var segs []found
	for _, file := range adopt {
		p := filepath.Join(dir, filepath.FromSlash(file))
		st, err := os.Stat(p)
		if err != nil {
			return errors.Join(err, m.close())
		}
		lastWrite = later(lastWrite, st.ModTime())
		sc, err := scanSegment(ctx, p, nil)
		if err != nil {
			return errors.Join(fmt.Errorf("%s: %w", file, err), m.close())
		}
		if sc.fragments == 0 {
			if err := os.Remove(p); err != nil {
				return errors.Join(err, m.close())
			}
			if err := r.syncDir(filepath.Dir(p)); err != nil {
				return errors.Join(err, m.close())
			}
			rep.Discarded = append(rep.Discarded, file)
			continue
		}
		if sc.validEnd < sc.size {
			if err := truncateSync(p, sc.validEnd); err != nil {
				return errors.Join(fmt.Errorf("%s: %w", file, err), m.close())
			}
			rep.Truncated = append(rep.Truncated, file)
			if sc, err = scanSegment(ctx, p, nil); err != nil {
				return errors.Join(fmt.Errorf("%s: %w", file, err), m.close())
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
	in := interruptionJSON{
		LastWrite: fmtTime(lastWrite), Detected: fmtTime(r.now()),
		Recovered: rep.Recovered, Truncated: rep.Truncated, Discarded: rep.Discarded,
	}
	if len(torn) > 0 {
		in.Torn = base64.StdEncoding.EncodeToString(torn)
	}
	errs = append(errs,
		m.addInterruption(in),
		m.seal(r.now(), SealInterrupted, r.signer),
		m.close(),
	)
	return errors.Join(errs...)
}

// recreateManifest starts the manifest of a run that crashed before its
// first line reached the disk.
func (r *Recorder) recreateManifest(dir, mpath string) (*manifestWriter, error) {
	stamp := filepath.Base(dir)
	started, err := time.Parse(stampLayout, stamp[:len(stampLayout)])
	if err != nil {
		return nil, err
	}
	m, err := createManifest(mpath, runJSON{
		Session: filepath.Base(filepath.Dir(dir)), Started: fmtTime(started), Streams: []string{},
		SegmentMS: r.cfg.Segment.Milliseconds(), PartMS: r.cfg.Part.Milliseconds(), Format: manifestFormat,
	}, r.witnessFor(runID(dir)))
	if err != nil {
		return nil, err
	}
	// The manifest's name must outlast a second crash.
	return m, r.syncDir(dir)
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

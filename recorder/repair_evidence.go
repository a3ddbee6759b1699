package recorder

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// runState is what repair reads from an unsealed manifest's whole lines.
type runState struct {
	sealed   bool
	streams  map[string]bool // named by the run line or added by a stream_event
	listed   map[string]bool // files with a segment line
	last     map[string]int  // stream → highest listed file number
	evidence evidence        // signs of more than a crash
}

func readRunState(lines []manifestLine) *runState {
	st := &runState{streams: map[string]bool{}, listed: map[string]bool{}, last: map[string]int{}}
	for i := range lines {
		l := &lines[i]
		if l.err != nil || l.kind() == "unknown" {
			st.evidence.add("line %d is not a manifest line (the %d lines after it are kept)", l.num, len(lines)-i-1)
			continue
		}
		want := ""
		if i > 0 {
			want = lines[i-1].hash
		}
		if l.line.Prev == nil || *l.line.Prev != want {
			st.evidence.add("line %d does not chain to the line before it", l.num)
		}
		switch l.kind() {
		case "run":
			if i != 0 {
				st.evidence.add("line %d is a run line but not the first", l.num)
			}
			for _, s := range l.line.Run.Streams {
				st.streams[s] = true
			}
		case "stream_event":
			if l.line.StreamEvent.Event == StreamAdded {
				st.streams[l.line.StreamEvent.Stream] = true
			}
		case "segment":
			if l.line.File == nil || l.line.Stream == nil {
				st.evidence.add("line %d: a segment line without its file", l.num)
				continue
			}
			file := *l.line.File
			st.listed[file] = true
			if n, ok := segmentNumber(file); ok && path.Dir(file) == *l.line.Stream {
				st.last[*l.line.Stream] = max(st.last[*l.line.Stream], n)
			}
		case "seal":
			st.sealed = true
		}
		if i == 0 && l.kind() != "run" {
			st.evidence.add("line 1 is not the run line")
		}
	}
	return st
}

// crashSegments picks the unlisted files a crash explains: for each stream
// of the run, the files numbered on from its last listed one (the segment
// open at the crash, and any closed one whose line was still waiting for
// room on the disk). Any other unlisted segment file, and any listed file
// that is gone, is evidence.
func (st *runState) crashSegments(dir string, files []string, ev *evidence) []string {
	onDisk := map[string]bool{}
	unlisted := map[string][]int{} // stream → file numbers
	for _, f := range files {
		onDisk[f] = true
		if st.listed[f] {
			continue
		}
		stream := path.Dir(f)
		if !st.streams[stream] {
			ev.add("%s is not listed, and %s is not a stream of the run", f, stream)
			continue
		}
		n, _ := segmentNumber(f)
		unlisted[stream] = append(unlisted[stream], n)
	}
	for f := range st.listed {
		if !onDisk[f] {
			if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(f))); err != nil {
				ev.add("%s is listed but not on disk", f)
			}
		}
	}
	var adopt []string
	streams := make([]string, 0, len(unlisted))
	for s := range unlisted {
		streams = append(streams, s)
	}
	slices.Sort(streams)
	for _, s := range streams {
		nums := unlisted[s]
		slices.Sort(nums)
		next := st.last[s] + 1
		for _, n := range nums {
			f := fmt.Sprintf("%s/%06d.mp4", s, n)
			if n != next {
				ev.add("%s is not listed, and is not a segment the crash left open (the stream's last listed file is number %d)", f, st.last[s])
				continue
			}
			adopt = append(adopt, f)
			next++
		}
	}
	return adopt
}

func segmentNumber(file string) (int, bool) {
	base := path.Base(file)
	if !segmentFileRE.MatchString(base) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(base, ".mp4"))
	return n, err == nil
}

// isSealLine says whether raw is a whole seal line: a seal torn only of its
// newline still sealed the run.
func isSealLine(raw []byte) bool {
	if len(raw) == 0 {
		return false
	}
	l := parseManifestLine(1, raw)
	return l.err == nil && l.line.Seal != nil
}

// evidence collects why a run is not repaired, a dozen at most.
type evidence []string

const maxEvidence = 12

func (e *evidence) add(format string, args ...any) {
	if len(*e) <= maxEvidence {
		*e = append(*e, fmt.Sprintf(format, args...))
	}
}

func (e evidence) list() []string {
	if len(e) > maxEvidence {
		return append(e[:maxEvidence:maxEvidence], "and more")
	}
	return e
}

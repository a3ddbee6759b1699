package harness

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// What a kill costs the archive, measured per stream.
//
// A part is one moof+mdat fragment: archive.part (1 s) of media, written
// in one write() and fsynced. A SIGKILL can cost a stream (a) the media
// the recorder had gathered for its next part, not yet written, and (b)
// any fragment on disk that crash repair then cut off. Just before each
// SIGKILL the soak reads every open segment file of the live run (those
// the manifest does not list yet): its whole fragments, and its mtime,
// the moment of its last write. After the soak it counts the fragments the
// repaired files hold. Then, per stream:
//
//	cut      = fragments on disk before the kill that the repaired file no longer holds
//	inflight = (end − mtime) / part, where end is the kill or, when the
//	           stream's feed stopped (its camera dropped, its point left) after
//	           the open segment began (its prft), the moment it stopped
//	lost     = cut + inflight, in parts
//
// The writer flushes a part when the frame that completes it arrives, so a
// keeping-up recorder holds at most one part and a frame or two in memory:
// the limit is one part, plus two frame times.
//
// The composite comes out of an encoder in bursts on a busy machine, so
// the wall time since its last write overstates what was gathered: for it
// the soak counts the frames its own RTSP reader of the composite (fed by
// the same stream as the recorder) received between that write and the
// kill, inflight = frames / fps. The wall time is reported beside it.
//
// On a machine busy elsewhere the server is at times not run at all for
// a second or more; the wall time in which the bench itself was not run
// either (see heartbeat) is taken out of the sources' in-flight time, and
// reported.
type killSnapshot struct {
	Run     string                 `json:"run"` // the run folder, relative to the archive root
	dir     string                 // its path
	Streams map[string]*streamSnap `json:"streams"`
}

// streamSnap is one stream of the live run at the instant before a kill.
type streamSnap struct {
	Open  string         `json:"open_file,omitempty"` // the newest segment, when not yet listed
	Start time.Time      `json:"start"`               // its wall-clock start (prft)
	MTime time.Time      `json:"mtime"`               // its last write
	Parts map[string]int `json:"parts"`               // whole fragments of each unlisted file
	// ReaderFrames, for the composite, is how many frames the soak's
	// reader of it received after that last write, up to the kill.
	ReaderFrames *int `json:"reader_frames,omitempty"`
}

// StreamLoss is what one kill cost one stream.
type StreamLoss struct {
	Stream    string  `json:"stream"`
	InflightS float64 `json:"inflight_s"` // media gathered but not written
	// SinceWriteS is the wall time from the last write to the end, and
	// MachineS how long within it the machine did not run the bench
	// (heartbeat): the recorder could not write then either. InflightS is
	// their difference, except for the composite read by the soak.
	SinceWriteS float64 `json:"since_write_s"`
	MachineS    float64 `json:"machine_s"`
	Cut         int     `json:"cut_parts"` // fragments on disk that repair removed
	Parts       float64 `json:"lost_parts"`
}

// snapshotRun reads the live run's open segments. Fragments are counted
// first and mtimes read last, so the mtimes are as fresh as can be when
// the caller kills at once.
func snapshotRun(root, runDir string) (*killSnapshot, error) {
	rel, _ := filepath.Rel(root, runDir)
	snap := &killSnapshot{Run: filepath.ToSlash(rel), dir: runDir, Streams: map[string]*streamSnap{}}
	listed, err := listedFiles(filepath.Join(runDir, "manifest.jsonl"))
	if err != nil {
		return nil, err
	}
	files := map[string][]string{} // stream → its segment files, oldest first
	for _, s := range streamDirs(runDir) {
		names, _ := filepath.Glob(filepath.Join(runDir, s, "*.mp4"))
		sort.Strings(names)
		files[s] = names
	}
	for s, names := range files {
		ss := &streamSnap{Parts: map[string]int{}}
		for i, f := range names {
			rel := filepath.ToSlash(strings.TrimPrefix(f, runDir+string(filepath.Separator)))
			if listed[rel] {
				continue
			}
			sc := scanSegment(f)
			ss.Parts[rel] = sc.parts
			if i == len(names)-1 {
				ss.Open, ss.Start = rel, sc.start
			}
		}
		snap.Streams[s] = ss
	}
	for _, ss := range snap.Streams {
		if ss.Open == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Join(runDir, filepath.FromSlash(ss.Open))); err == nil {
			ss.MTime = fi.ModTime()
		}
	}
	return snap, nil
}

// streamDirs lists a run's stream folders: composite and sources/ID.
func streamDirs(runDir string) []string {
	var out []string
	if dirExists(filepath.Join(runDir, "composite")) {
		out = append(out, "composite")
	}
	ents, _ := os.ReadDir(filepath.Join(runDir, "sources"))
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, "sources/"+e.Name())
		}
	}
	return out
}

// listedFiles is the set of segment files the manifest lists (closed).
func listedFiles(path string) (map[string]bool, error) {
	out := map[string]bool{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var l struct {
			File string `json:"file"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.File != "" {
			out[l.File] = true
		}
	}
	return out, nil
}

// segmentScan is what the soak reads of a segment file: its whole
// moof+mdat pairs (a torn tail is not counted) and the wall-clock start
// its prft box gives (zero without one). A missing file holds nothing.
type segmentScan struct {
	parts int
	start time.Time
}

func scanSegment(path string) segmentScan {
	f, err := os.Open(path)
	if err != nil {
		return segmentScan{}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return segmentScan{}
	}
	return scanBoxes(f, fi.Size())
}

func countFragments(path string) int { return scanSegment(path).parts }

// scanBoxes walks the top-level boxes, reading only their headers (and
// the prft's NTP time).
func scanBoxes(r io.ReaderAt, size int64) segmentScan {
	var hdr [16]byte
	box := func(off int64) (string, int64, bool) {
		if off+8 > size {
			return "", 0, false
		}
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return "", 0, false
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		if n == 1 {
			if off+16 > size {
				return "", 0, false
			}
			if _, err := r.ReadAt(hdr[8:16], off+8); err != nil {
				return "", 0, false
			}
			n = int64(binary.BigEndian.Uint64(hdr[8:16]))
		}
		if n < 8 || off+n > size {
			return typ, 0, false
		}
		return typ, n, true
	}
	var out segmentScan
	for off := int64(0); ; {
		typ, n, ok := box(off)
		if !ok {
			return out
		}
		at := off
		off += n
		switch typ {
		case "prft":
			// version+flags (4), reference track (4), NTP time (8).
			var ntp [8]byte
			if n >= 24 {
				if _, err := r.ReadAt(ntp[:], at+16); err == nil {
					out.start = ntpToTime(binary.BigEndian.Uint64(ntp[:]))
				}
			}
		case "moof":
			typ, n, ok = box(off)
			if !ok || typ != "mdat" {
				return out
			}
			off += n
			out.parts++
		}
	}
}

// ntpToTime reads a 64-bit NTP timestamp (seconds since 1900, 32.32).
func ntpToTime(v uint64) time.Time {
	const ntpEpochOffset = 2208988800
	secs := int64(v>>32) - ntpEpochOffset
	nanos := int64((v & 0xffffffff) * uint64(time.Second) >> 32)
	return time.Unix(secs, nanos).UTC()
}

// stopTimes are when each stream's feed stopped: its camera was dropped
// or its point left the session.
type stopTimes map[string][]time.Time

func (s stopTimes) add(stream string, at time.Time) { s[stream] = append(s[stream], at) }

// last is the latest stop at or before t.
func (s stopTimes) last(stream string, t time.Time) (time.Time, bool) {
	var best time.Time
	for _, at := range s[stream] {
		if !at.After(t) && at.After(best) {
			best = at
		}
	}
	return best, !best.IsZero()
}

// losses measures what the kill at killAt cost each stream, reading the
// repaired files now.
func (k *killSnapshot) losses(killAt time.Time, stops stopTimes, part time.Duration, fps int, frozen func(from, to time.Time) time.Duration) []StreamLoss {
	names := make([]string, 0, len(k.Streams))
	for s := range k.Streams {
		names = append(names, s)
	}
	sort.Strings(names)
	out := make([]StreamLoss, 0, len(names))
	for _, s := range names {
		ss := k.Streams[s]
		l := StreamLoss{Stream: s}
		if ss.Open != "" && !ss.MTime.IsZero() {
			end := killAt
			if at, ok := stops.last(s, killAt); ok && !ss.Start.After(at) {
				end = at // the segment began before the feed stopped: nothing came after
			}
			if d := end.Sub(ss.MTime); d > 0 {
				l.SinceWriteS = d.Seconds()
				l.MachineS = frozen(ss.MTime, end).Seconds()
			}
			l.InflightS = l.SinceWriteS - l.MachineS
			if ss.ReaderFrames != nil && fps > 0 {
				l.InflightS = float64(*ss.ReaderFrames) / float64(fps)
			}
		}
		for f, before := range ss.Parts {
			if after := countFragments(filepath.Join(k.dir, filepath.FromSlash(f))); after < before {
				l.Cut += before - after
			}
		}
		l.Parts = float64(l.Cut) + l.InflightS/part.Seconds()
		out = append(out, l)
	}
	return out
}

// runFolders lists the run folders of a session, oldest first (names are
// UTC start times), leaving out retention's hidden ones.
func runFolders(sessionDir string) []string {
	ents, _ := os.ReadDir(sessionDir)
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(sessionDir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

package harness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// archivedStream is what one stream of a recorded run holds: its video
// samples, their total duration, and the frames missing between them
// (a sample lasting two frame times or more hides a lost frame).
type archivedStream struct {
	name    string
	samples int
	seconds float64
	missing uint64
}

func (a archivedStream) fps() float64 {
	if a.seconds <= 0 {
		return 0
	}
	return float64(a.samples) / a.seconds
}

// readArchivedRun reads every segment of each stream folder under runDir
// (sources/ID and composite).
func readArchivedRun(runDir string, fps int) ([]archivedStream, error) {
	dirs, _ := filepath.Glob(filepath.Join(runDir, "sources", "*"))
	if c := filepath.Join(runDir, "composite"); dirExists(c) {
		dirs = append(dirs, c)
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("archive %s: no streams", runDir)
	}
	sort.Strings(dirs)
	var out []archivedStream
	for _, d := range dirs {
		rel, _ := filepath.Rel(runDir, d)
		st := archivedStream{name: filepath.ToSlash(rel)}
		files, _ := filepath.Glob(filepath.Join(d, "*.mp4"))
		sort.Strings(files)
		for _, f := range files {
			if err := st.addSegment(f, fps); err != nil {
				return nil, fmt.Errorf("archive %s: %w", f, err)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// addSegment walks a fragmented MP4's top-level boxes: the moov names the
// video track, each moof+mdat is a part whose video samples are counted.
func (a *archivedStream) addSegment(path string, fps int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var videoID int
	var timescale uint32
	for off := 0; off+8 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[off:]))
		typ := string(b[off+4 : off+8])
		if size == 1 && off+16 <= len(b) {
			size = int(binary.BigEndian.Uint64(b[off+8:]))
		}
		if size < 8 || off+size > len(b) {
			break // a torn tail: what came before still counts
		}
		switch typ {
		case "moov":
			var init fmp4.Init
			if err := init.Unmarshal(bytes.NewReader(b[off : off+size])); err != nil {
				return err
			}
			for _, t := range init.Tracks {
				if t.Codec.IsVideo() {
					videoID, timescale = t.ID, t.TimeScale
					break
				}
			}
		case "moof":
			end := off + size
			// The part is the moof and the mdat after it.
			if end+8 <= len(b) && string(b[end+4:end+8]) == "mdat" {
				end += int(binary.BigEndian.Uint32(b[end:]))
			}
			if end > len(b) {
				return nil
			}
			var parts fmp4.Parts
			if err := parts.Unmarshal(b[off:end]); err != nil {
				return err
			}
			a.addParts(parts, videoID, timescale, fps)
			size = end - off
		}
		off += size
	}
	if videoID == 0 {
		return errors.New("no video track")
	}
	return nil
}

func (a *archivedStream) addParts(parts fmp4.Parts, videoID int, timescale uint32, fps int) {
	if timescale == 0 || fps <= 0 {
		return
	}
	frame := float64(timescale) / float64(fps)
	for _, p := range parts {
		for _, t := range p.Tracks {
			if t.ID != videoID {
				continue
			}
			for _, s := range t.Samples {
				a.samples++
				a.seconds += float64(s.Duration) / float64(timescale)
				if n := int(float64(s.Duration)/frame + 0.5); n > 1 {
					a.missing += uint64(n - 1)
				}
			}
		}
	}
}

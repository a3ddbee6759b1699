package recorder

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"diemcau/pipeline"
)

// errEmptySegment: the segment closed before any sample reached the disk;
// its file is removed and no manifest line is written.
var errEmptySegment = errors.New("segment holds no media")

// segmentSpec is what opening a segment needs.
type segmentSpec struct {
	runDir  string
	file    string // relative to the run folder: composite/000001.mp4
	tracks  []*pipeline.Track
	key     *pipeline.Frame // the frame the segment starts with
	origin  time.Duration   // stream time of the segment's tick 0
	wall    time.Time       // wall clock of tick 0
	part    time.Duration
	fsync   bool
	maxJump time.Duration
	onSync  func(time.Duration)
}

// segmentResult is a closed segment, as its manifest line tells it.
type segmentResult struct {
	File       string
	Start      time.Time
	DurationMS int64
	Bytes      int64
	SHA256     string
}

// segmentWriter writes one fragmented MP4 file: the init (ftyp, moov), a
// prft box anchoring tick 0 to the wall clock, then one moof+mdat per part.
// Every fragment goes to the file in one write, so after a crash the file
// ends at a fragment boundary or in a torn fragment that repair cuts off.
type segmentWriter struct {
	spec    segmentSpec
	f       *os.File
	hash    hash.Hash
	size    int64 // bytes known good on disk
	damaged bool  // a failed write could not be rolled back

	tracks  []*trackWriter
	ignored []*pipeline.Track // tracks the archive cannot hold
	lead    *trackWriter      // video if any: parts and cuts follow it
	params  []byte            // the video SPS the segment opened with

	partTicks int64
	seq       uint32
	buf       seekablebuffer.Buffer
	frag      fmp4.Part
}

func openSegment(spec segmentSpec) (*segmentWriter, []error, error) {
	s := &segmentWriter{spec: spec, hash: sha256.New()}
	var skipped []error
	for _, t := range spec.tracks {
		key := spec.key
		if key.Track != t {
			key = nil
		}
		tw, err := newTrackWriter(t, len(s.tracks)+1, key, spec.origin, spec.maxJump)
		if err != nil {
			if t == spec.key.Track {
				return nil, skipped, err
			}
			skipped = append(skipped, err)
			s.ignored = append(s.ignored, t)
			continue
		}
		s.tracks = append(s.tracks, tw)
		if s.lead == nil || (tw.video && !s.lead.video) {
			s.lead = tw
		}
	}
	if s.lead == nil {
		return nil, skipped, fmt.Errorf("no track the archive can hold")
	}
	if s.lead.video {
		_, s.params, _ = paramSets(s.lead.src.Codec, spec.key.NALUs)
		if s.params == nil {
			s.params = s.lead.src.SPS
		}
	}
	s.partTicks = toTicks(spec.part, s.lead.timescale)

	init := fmp4.Init{}
	for _, tw := range s.tracks {
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{ID: tw.id, TimeScale: tw.timescale, Codec: tw.codec})
	}
	if err := init.Marshal(&s.buf); err != nil {
		return nil, skipped, fmt.Errorf("segment %s: init: %w", spec.file, err)
	}
	s.buf.Write(prftBox(uint32(s.lead.id), spec.wall))

	path := filepath.Join(spec.runDir, filepath.FromSlash(spec.file))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, skipped, fmt.Errorf("segment %s: %w", spec.file, err)
	}
	s.f = f
	if err := s.write(s.buf.Bytes()); err != nil {
		f.Close()
		os.Remove(path)
		return nil, skipped, err
	}
	// The file must exist after a power loss for its fragments to matter.
	if spec.fsync {
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			os.Remove(path)
			return nil, skipped, fmt.Errorf("segment %s: %w", spec.file, err)
		}
	}
	return s, skipped, nil
}

// trackFor returns the writer of a frame's track; nil for a track the
// segment does not have.
func (s *segmentWriter) trackFor(t *pipeline.Track) *trackWriter {
	for _, tw := range s.tracks {
		if tw.src == t {
			return tw
		}
	}
	return nil
}

func (s *segmentWriter) ignores(t *pipeline.Track) bool {
	for _, x := range s.ignored {
		if x == t {
			return true
		}
	}
	return false
}

// canCutAt says whether a new segment may start at f.
func (s *segmentWriter) canCutAt(f *pipeline.Frame) bool {
	return f.Track == s.lead.src && (!s.lead.video || f.Key)
}

// elapsed is the lead track's time from the segment's start to f.
func (s *segmentWriter) elapsed(f *pipeline.Frame) time.Duration {
	return frameTime(f) - s.spec.origin
}

// paramsChanged says whether a video keyframe carries an SPS other than the
// one the segment was opened with.
func (s *segmentWriter) paramsChanged(f *pipeline.Frame) bool {
	return s.lead.video && f.Key && f.Track == s.lead.src && !sameParams(s.lead.src.Codec, f.NALUs, s.params)
}

// add takes a frame and writes a fragment when a part is complete; flushed
// says whether it did.
func (s *segmentWriter) add(tw *trackWriter, f *pipeline.Frame) (flushed bool, err error) {
	tw.push(f)
	if s.lead.partDur < s.partTicks {
		return false, nil
	}
	return true, s.flush()
}

// flush writes the gathered samples as one fragment.
func (s *segmentWriter) flush() error {
	s.frag.Tracks = s.frag.Tracks[:0]
	for _, tw := range s.tracks {
		if pt := tw.partTrack(); pt != nil {
			s.frag.Tracks = append(s.frag.Tracks, pt)
		}
	}
	if len(s.frag.Tracks) == 0 {
		return nil
	}
	s.seq++
	s.frag.SequenceNumber = s.seq
	s.buf.Reset()
	err := s.frag.Marshal(&s.buf)
	if err == nil {
		err = s.write(s.buf.Bytes())
	}
	for _, tw := range s.tracks {
		if err == nil {
			tw.flushed()
		} else {
			tw.dropPart()
		}
	}
	clear(s.frag.Tracks)
	if err != nil {
		return fmt.Errorf("segment %s: fragment %d: %w", s.spec.file, s.seq, err)
	}
	return nil
}

// write appends b and, with fsync on, syncs it; on failure the file is cut
// back to its last good size so that it still ends at a fragment boundary.
func (s *segmentWriter) write(b []byte) error {
	_, err := s.f.Write(b)
	if err == nil && s.spec.fsync {
		t0 := time.Now()
		err = s.f.Sync()
		if s.spec.onSync != nil {
			s.spec.onSync(time.Since(t0))
		}
	}
	if err != nil {
		if terr := s.f.Truncate(s.size); terr != nil {
			s.damaged = true
		}
		return err
	}
	s.hash.Write(b)
	s.size += int64(len(b))
	return nil
}

// close writes what is gathered, syncs and closes the file. end is the
// stream time the segment ends at when known (the next segment's first
// keyframe). On a write error the segment is closed as far as it got, and
// the result still describes what is on disk.
func (s *segmentWriter) close(end *time.Duration) (segmentResult, error) {
	for _, tw := range s.tracks {
		if tw == s.lead {
			tw.finish(end)
		} else {
			tw.finish(nil)
		}
	}
	werr := s.flush()
	serr := s.f.Sync()
	cerr := s.f.Close()
	path := filepath.Join(s.spec.runDir, filepath.FromSlash(s.spec.file))
	if !s.spec.fsync && serr == nil {
		// The manifest line about to be written is always synced: the
		// file's name must be on disk before it.
		serr = syncDir(filepath.Dir(path))
	}
	if s.lead.flushedSamples == 0 {
		os.Remove(path)
		return segmentResult{}, errors.Join(errEmptySegment, werr)
	}
	res := segmentResult{
		File:       s.spec.file,
		Start:      s.spec.wall,
		DurationMS: ticksToMS(s.lead.flushedDur, s.lead.timescale),
		Bytes:      s.size,
		SHA256:     hex.EncodeToString(s.hash.Sum(nil)),
	}
	if s.damaged {
		// The tail could not be cut off: describe the file as it is.
		sum, n, err := hashFile(path)
		if err != nil {
			return res, errors.Join(werr, err)
		}
		res.SHA256, res.Bytes = sum, n
	}
	if serr != nil {
		serr = fmt.Errorf("segment %s: sync: %w", s.spec.file, serr)
	}
	return res, errors.Join(werr, serr, cerr)
}

// hasAudio says whether the segment records a sound track.
func (s *segmentWriter) hasAudio() bool {
	for _, tw := range s.tracks {
		if !tw.video && tw.src.Kind() == pipeline.Audio {
			return true
		}
	}
	return false
}

// endLead completes the lead track's last frame at end (the next segment's
// first picture) while the segment still takes sound.
func (s *segmentWriter) endLead(end time.Duration) { s.lead.finish(&end) }

// earlyFrames counts audio frames dropped for preceding the first picture.
func (s *segmentWriter) earlyFrames() int {
	n := 0
	for _, tw := range s.tracks {
		n += tw.early
	}
	return n
}

func (s *segmentWriter) timestampJumps() int {
	n := 0
	for _, tw := range s.tracks {
		n += tw.jumps
	}
	return n
}

func ticksToMS(ticks int64, rate uint32) int64 {
	return (ticks*1000 + int64(rate)/2) / int64(rate)
}

// prftBox is a ProducerReferenceTimeBox (ISO/IEC 14496-12 8.16.5) saying
// that media time 0 of the track is the wall clock wall, so that a segment
// found without its manifest line (after a crash) still knows its start.
func prftBox(trackID uint32, wall time.Time) []byte {
	b := make([]byte, 32)
	binary.BigEndian.PutUint32(b[0:], 32)
	copy(b[4:], "prft")
	b[8] = 1 // version 1: 64-bit media time
	binary.BigEndian.PutUint32(b[12:], trackID)
	binary.BigEndian.PutUint64(b[16:], ntpTime(wall))
	binary.BigEndian.PutUint64(b[24:], 0)
	return b
}

// ntpEpochOffset is the seconds from 1900-01-01 to 1970-01-01.
const ntpEpochOffset = 2208988800

// ntpTime rounds the fraction up so that fromNTP gives back the very
// nanosecond, and the manifest's start matches the file's to the millisecond.
func ntpTime(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := (uint64(t.Nanosecond())<<32 + uint64(time.Second) - 1) / uint64(time.Second)
	return secs<<32 | frac
}

func fromNTP(v uint64) time.Time {
	secs := int64(v>>32) - ntpEpochOffset
	nanos := int64((v & 0xffffffff) * uint64(time.Second) >> 32)
	return time.Unix(secs, nanos).UTC()
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

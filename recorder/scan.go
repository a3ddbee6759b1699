package recorder

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// maxBoxInMemory bounds the moov, moof or mdat a scan reads whole; a fragment
// of one second of 100 Mbps video is 12.5 MB.
const maxBoxInMemory = 256 << 20

// segmentScan is what a segment file holds, read back from disk.
type segmentScan struct {
	size      int64
	initEnd   int64 // end of the moov box; 0 without a complete init
	validEnd  int64 // end of the last complete fragment (initEnd if none)
	fragments int
	wall      time.Time // prft: the wall clock of tick 0; zero if absent
	sha256    string    // of the whole file
	stop      string    // why the scan stopped before the end of the file

	tracks   map[int]*scanTrack
	leadID   int
	leadRate uint32
	leadDur  int64 // ticks of the lead track's samples
	leadN    int
}

type scanTrack struct {
	timescale uint32
	video     bool
	samples   int
	duration  int64
	nextBase  uint64 // where the next fragment should start
	jumps     int    // fragments whose tfdt does not follow the previous one
}

// DurationMS is the lead track's length, as the manifest counts it.
func (s *segmentScan) durationMS() int64 {
	if s.leadRate == 0 {
		return 0
	}
	return ticksToMS(s.leadDur, s.leadRate)
}

// scanSegment reads a segment file box by box, hashing all of it, and
// finds where its last complete fragment ends. It stops with ctx's error
// when ctx ends; hashed, if not nil, counts the bytes read.
func scanSegment(ctx context.Context, path string, hashed *atomic.Int64) (*segmentScan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	s := &segmentScan{size: st.Size(), tracks: map[int]*scanTrack{}}
	h := sha256.New()
	// A verification nobody waits for any more stops within one buffer.
	var in io.Reader = ctxReader{ctx, f}
	if hashed != nil {
		in = countReader{in, hashed}
	}
	r := bufio.NewReaderSize(io.TeeReader(in, h), 1<<20)
	s.scanBoxes(r)
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		// The scan took the cut-short read for the end of the file.
		return nil, err
	}
	s.sha256 = hex.EncodeToString(h.Sum(nil))
	return s, nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (s *segmentScan) scanBoxes(r *bufio.Reader) {
	var pos int64
	var moof []byte
	for pos < s.size {
		typ, hdr, size, err := readBoxHeader(r, s.size-pos)
		if err != nil {
			s.stop = fmt.Sprintf("at byte %d: %v", pos, err)
			return
		}
		body := size - hdr
		keep := typ == "moov" || typ == "moof" || typ == "mdat" || typ == "prft"
		var data []byte
		if keep {
			if size > maxBoxInMemory {
				s.stop = fmt.Sprintf("at byte %d: %s box of %d bytes", pos, typ, size)
				return
			}
			data = make([]byte, size)
			putBoxHeader(data, typ, size, hdr)
			if _, err := io.ReadFull(r, data[hdr:]); err != nil {
				s.stop = fmt.Sprintf("at byte %d: %v", pos, err)
				return
			}
		} else if _, err := r.Discard(int(body)); err != nil {
			s.stop = fmt.Sprintf("at byte %d: %v", pos, err)
			return
		}
		pos += size

		switch typ {
		case "moov":
			if err := s.readInit(data); err != nil {
				s.stop = fmt.Sprintf("moov: %v", err)
				return
			}
			s.initEnd, s.validEnd = pos, pos
		case "prft":
			if len(data) >= 32 && data[8] == 1 {
				s.wall = fromNTP(binary.BigEndian.Uint64(data[16:]))
			}
		case "moof":
			if s.initEnd == 0 {
				s.stop = "moof before moov"
				return
			}
			moof = data
		case "mdat":
			if moof == nil {
				s.stop = fmt.Sprintf("at byte %d: mdat without moof", pos-size)
				return
			}
			if err := s.readFragment(append(moof, data...)); err != nil {
				s.stop = fmt.Sprintf("fragment %d: %v", s.fragments+1, err)
				return
			}
			moof = nil
			s.fragments++
			s.validEnd = pos
		}
	}
	if moof != nil {
		s.stop = "moof without mdat"
	}
}

func readBoxHeader(r *bufio.Reader, left int64) (typ string, hdr, size int64, err error) {
	var b [16]byte
	if left < 8 {
		return "", 0, 0, errors.New("torn box header")
	}
	if _, err := io.ReadFull(r, b[:8]); err != nil {
		return "", 0, 0, err
	}
	size, hdr, typ = int64(binary.BigEndian.Uint32(b[:4])), 8, string(b[4:8])
	switch size {
	case 1:
		if left < 16 {
			return "", 0, 0, errors.New("torn box header")
		}
		if _, err := io.ReadFull(r, b[8:16]); err != nil {
			return "", 0, 0, err
		}
		size, hdr = int64(binary.BigEndian.Uint64(b[8:16])), 16
	case 0:
		size = left // to the end of the file: never written by the recorder
	}
	if size < hdr {
		return "", 0, 0, fmt.Errorf("%q box of size %d", typ, size)
	}
	if size > left {
		return "", 0, 0, fmt.Errorf("%q box of %d bytes, %d left in the file (torn)", typ, size, left)
	}
	return typ, hdr, size, nil
}

func putBoxHeader(dst []byte, typ string, size, hdr int64) {
	if hdr == 16 {
		binary.BigEndian.PutUint32(dst, 1)
		copy(dst[4:], typ)
		binary.BigEndian.PutUint64(dst[8:], uint64(size))
		return
	}
	binary.BigEndian.PutUint32(dst, uint32(size))
	copy(dst[4:], typ)
}

func (s *segmentScan) readInit(moov []byte) error {
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(moov)); err != nil {
		return err
	}
	for _, t := range init.Tracks {
		st := &scanTrack{timescale: t.TimeScale, video: t.Codec.IsVideo()}
		s.tracks[t.ID] = st
		if s.leadID == 0 || (st.video && !s.tracks[s.leadID].video) {
			s.leadID, s.leadRate = t.ID, t.TimeScale
		}
	}
	if len(s.tracks) == 0 {
		return errors.New("no tracks")
	}
	return nil
}

func (s *segmentScan) readFragment(b []byte) error {
	var parts fmp4.Parts
	if err := parts.Unmarshal(b); err != nil {
		return err
	}
	for _, p := range parts {
		for _, pt := range p.Tracks {
			t := s.tracks[pt.ID]
			if t == nil {
				return fmt.Errorf("track %d not in the init", pt.ID)
			}
			if t.samples > 0 && pt.BaseTime != t.nextBase {
				t.jumps++
			}
			var d int64
			for _, smp := range pt.Samples {
				d += int64(smp.Duration)
			}
			t.samples += len(pt.Samples)
			t.duration += d
			t.nextBase = pt.BaseTime + uint64(d)
			if pt.ID == s.leadID {
				s.leadDur += d
				s.leadN += len(pt.Samples)
			}
		}
	}
	return nil
}

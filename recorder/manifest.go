package recorder

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// ManifestName is the manifest's file name in a run folder.
const ManifestName = "manifest.jsonl"

// manifestFormat is written in the run line; bump it on an incompatible change.
const manifestFormat = 1

// The lines of manifest.jsonl. Every line carries prev, the sha256 of the
// previous line's bytes (without its newline; "" on the first line), so an
// edit, removal or reordering of any line breaks the chain.

// segmentLine is CONTRACT.md's segment line, fields in its order.
type segmentLine struct {
	Seq        int    `json:"seq"`
	Stream     string `json:"stream"`
	File       string `json:"file"`
	Start      string `json:"start"`
	DurationMS int64  `json:"duration_ms"`
	Bytes      int64  `json:"bytes"`
	SHA256     string `json:"sha256"`
	Prev       string `json:"prev"`
}

type runJSON struct {
	Session   string   `json:"session"`
	Started   string   `json:"started"`
	Streams   []string `json:"streams"`
	SegmentMS int64    `json:"segment_ms"`
	PartMS    int64    `json:"part_ms"`
	Format    int      `json:"format"`
}

type gapJSON struct {
	Stream string `json:"stream"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// Stream events: a stream joined a live run after its start, or left it
// before its end.
const (
	StreamAdded   = "added"
	StreamRemoved = "removed"
)

type streamEventJSON struct {
	Stream string `json:"stream"`
	Event  string `json:"event"` // StreamAdded, StreamRemoved
	At     string `json:"at"`
}

type interruptionJSON struct {
	LastWrite string   `json:"last_write"`
	Detected  string   `json:"detected"`
	Recovered []string `json:"recovered,omitempty"`
	Truncated []string `json:"truncated,omitempty"`
	Discarded []string `json:"discarded,omitempty"`
}

type sealJSON struct {
	At     string `json:"at"`
	Reason string `json:"reason"`
	Lines  int    `json:"lines"`
	Key    string `json:"key,omitempty"`
	Sig    string `json:"sig,omitempty"`
}

// fmtTime is the manifest's time format: RFC 3339, UTC, milliseconds.
func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

func lineHash(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// manifestWriter appends chained lines. A line that cannot be written (full
// disk) is kept and written before the next one, so the chain on disk is
// never torn; lines are always fsynced, since a segment's line is its proof.
type manifestWriter struct {
	mu      sync.Mutex
	f       *os.File
	size    int64
	last    string // hash of the last line
	lines   int
	seq     int // last segment seq
	pending [][]byte
	sealed  bool
}

func createManifest(path string, header runJSON) (*manifestWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	m := &manifestWriter{f: f}
	if err := m.add(func(prev string) any {
		return struct {
			Run  runJSON `json:"run"`
			Prev string  `json:"prev"`
		}{header, prev}
	}); err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

// openManifest opens an existing manifest to append to it, cutting off a
// torn last line; a sealed manifest is only read.
func openManifest(path string) (*manifestWriter, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := &manifestWriter{}
	good := 0
	for rest := data; ; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		line := rest[:i]
		var l rawLine
		if json.Unmarshal(line, &l) != nil {
			break
		}
		if l.Seq != nil {
			m.seq = max(m.seq, *l.Seq)
		}
		if l.Seal != nil {
			m.sealed = true
		}
		m.last = lineHash(line)
		m.lines++
		good += i + 1
		rest = rest[i+1:]
	}
	if m.sealed {
		// Nothing may be added to a sealed run, and bytes after its seal
		// are for verify to report, not for us to cut off.
		return m, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	if good < len(data) {
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, err
		}
	}
	m.f, m.size = f, int64(good)
	return m, nil
}

// add builds a line with the chain's prev and appends it.
func (m *manifestWriter) add(build func(prev string) any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addLocked(build)
}

func (m *manifestWriter) addLocked(build func(prev string) any) error {
	if m.sealed {
		return errors.New("manifest already sealed")
	}
	line, err := json.Marshal(build(m.last))
	if err != nil {
		return err
	}
	m.last = lineHash(line)
	m.lines++
	m.pending = append(m.pending, append(line, '\n'))
	return m.flushLocked()
}

func (m *manifestWriter) flushLocked() error {
	for len(m.pending) > 0 {
		b := m.pending[0]
		_, err := m.f.Write(b)
		if err == nil {
			err = m.f.Sync()
		}
		if err != nil {
			m.f.Truncate(m.size)
			return fmt.Errorf("manifest: %d lines waiting: %w", len(m.pending), err)
		}
		m.size += int64(len(b))
		m.pending[0] = nil
		m.pending = m.pending[1:]
	}
	return nil
}

func (m *manifestWriter) addSegment(stream string, r segmentResult) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addLocked(func(prev string) any {
		m.seq++
		return segmentLine{
			Seq: m.seq, Stream: stream, File: r.File, Start: fmtTime(r.Start),
			DurationMS: r.DurationMS, Bytes: r.Bytes, SHA256: r.SHA256, Prev: prev,
		}
	})
}

func (m *manifestWriter) addGap(stream string, from, to time.Time) error {
	return m.add(func(prev string) any {
		return struct {
			Gap  gapJSON `json:"gap"`
			Prev string  `json:"prev"`
		}{gapJSON{Stream: stream, From: fmtTime(from), To: fmtTime(to)}, prev}
	})
}

// addStreamEvent records a stream joining the run (before its first
// segment line) or leaving it (after its last).
func (m *manifestWriter) addStreamEvent(stream, event string, at time.Time) error {
	return m.add(func(prev string) any {
		return struct {
			StreamEvent streamEventJSON `json:"stream_event"`
			Prev        string          `json:"prev"`
		}{streamEventJSON{Stream: stream, Event: event, At: fmtTime(at)}, prev}
	})
}

func (m *manifestWriter) addInterruption(in interruptionJSON) error {
	return m.add(func(prev string) any {
		return struct {
			Interruption interruptionJSON `json:"interruption"`
			Prev         string           `json:"prev"`
		}{in, prev}
	})
}

// seal appends the seal line; nothing may follow it.
func (m *manifestWriter) seal(at time.Time, reason string, key signer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.addLocked(func(prev string) any {
		s := sealJSON{At: fmtTime(at), Reason: reason, Lines: m.lines}
		key.sign(&s, prev)
		return struct {
			Seal sealJSON `json:"seal"`
			Prev string   `json:"prev"`
		}{s, prev}
	})
	m.sealed = true
	return err
}

// retry writes lines left waiting by a full disk.
func (m *manifestWriter) retry() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.flushLocked()
}

func (m *manifestWriter) close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.f == nil {
		return nil
	}
	err := m.flushLocked()
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// rawLine decodes any manifest line.
type rawLine struct {
	Seq        *int    `json:"seq"`
	Stream     *string `json:"stream"`
	File       *string `json:"file"`
	Start      *string `json:"start"`
	DurationMS *int64  `json:"duration_ms"`
	Bytes      *int64  `json:"bytes"`
	SHA256     *string `json:"sha256"`
	Prev       *string `json:"prev"`

	Run          *runJSON          `json:"run"`
	Gap          *gapJSON          `json:"gap"`
	StreamEvent  *streamEventJSON  `json:"stream_event"`
	Interruption *interruptionJSON `json:"interruption"`
	Seal         *sealJSON         `json:"seal"`
}

// manifestLine is one parsed line with its bytes.
type manifestLine struct {
	num  int // 1-based
	raw  []byte
	hash string
	line rawLine
	err  error // not a valid line
}

func (l *manifestLine) kind() string {
	switch {
	case l.err != nil:
		return "malformed"
	case l.line.Seq != nil:
		return "segment"
	case l.line.Run != nil:
		return "run"
	case l.line.Gap != nil:
		return "gap"
	case l.line.StreamEvent != nil:
		return "stream_event"
	case l.line.Interruption != nil:
		return "interruption"
	case l.line.Seal != nil:
		return "seal"
	}
	return "unknown"
}

// segment returns a segment line's fields, checking they are all there.
func (l *manifestLine) segment() (segmentLine, error) {
	r := l.line
	if r.Seq == nil || r.Stream == nil || r.File == nil || r.Start == nil || r.DurationMS == nil ||
		r.Bytes == nil || r.SHA256 == nil || r.Prev == nil {
		return segmentLine{}, errors.New("segment line lacks a field")
	}
	return segmentLine{
		Seq: *r.Seq, Stream: *r.Stream, File: *r.File, Start: *r.Start,
		DurationMS: *r.DurationMS, Bytes: *r.Bytes, SHA256: *r.SHA256, Prev: *r.Prev,
	}, nil
}

// readManifest parses every line; torn says the file does not end in a
// newline (a line cut off by a crash).
func readManifest(path string) (lines []manifestLine, torn bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	for n := 1; len(data) > 0; n++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			torn = true
			i = len(data)
		}
		raw := data[:i]
		l := manifestLine{num: n, raw: raw, hash: lineHash(raw)}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l.line); err != nil {
			l.err = err
		} else if dec.More() {
			l.err = errors.New("more than one JSON value")
		}
		lines = append(lines, l)
		if i == len(data) {
			break
		}
		data = data[i+1:]
	}
	return lines, torn, nil
}

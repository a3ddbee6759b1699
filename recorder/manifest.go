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

// segmentLine is the segment line of docs/archive.md, fields in its order.
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
	// Torn is a last line the crash cut off before its newline, base64:
	// the one thing repair removes from a manifest, kept here.
	Torn string `json:"torn,omitempty"`
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
// Once a line is on disk it is reported to the witness, if any.
type manifestWriter struct {
	mu      sync.Mutex
	f       *os.File
	size    int64
	last    string // hash of the last line, written or waiting
	lines   int    // lines written or waiting
	onDisk  int    // lines written and synced
	seq     int    // last segment seq
	pending []pendingLine
	sealed  bool
	witness func(ManifestWitness) // may be nil
}

// pendingLine is a line waiting to be written, with what the witness is
// told once it is.
type pendingLine struct {
	b    []byte // with its newline
	hash string
	seal bool
}

func createManifest(path string, header runJSON, witness func(ManifestWitness)) (*manifestWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	m := &manifestWriter{f: f, witness: witness}
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

// appendManifest opens an unsealed manifest to go on with it: lines are its
// whole lines as readManifest read them, and torn the bytes of a last line
// a crash cut off before its newline, which alone are cut. The caller has
// checked that the lines form an unbroken, unsealed chain.
func appendManifest(path string, lines []manifestLine, torn int, witness func(ManifestWitness)) (*manifestWriter, error) {
	m := &manifestWriter{witness: witness, lines: len(lines), onDisk: len(lines)}
	for i := range lines {
		l := &lines[i]
		if l.err != nil || l.line.Seal != nil {
			return nil, fmt.Errorf("manifest line %d: not a line to go on from", l.num)
		}
		if l.line.Seq != nil {
			m.seq = max(m.seq, *l.line.Seq)
		}
		m.last = l.hash
		m.size += int64(len(l.raw)) + 1
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || st.Size() != m.size+int64(torn) {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%d bytes, expected %d: changed while being repaired", st.Size(), m.size+int64(torn))
		}
		return nil, err
	}
	if torn > 0 {
		if err := f.Truncate(m.size); err != nil {
			f.Close()
			return nil, err
		}
	}
	m.f = f
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
	v := build(m.last)
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	m.last = lineHash(line)
	m.lines++
	_, seal := v.(sealLine)
	m.pending = append(m.pending, pendingLine{b: append(line, '\n'), hash: m.last, seal: seal})
	return m.flushLocked()
}

func (m *manifestWriter) flushLocked() error {
	for len(m.pending) > 0 {
		p := m.pending[0]
		_, err := m.f.Write(p.b)
		if err == nil {
			err = m.f.Sync()
		}
		if err != nil {
			m.f.Truncate(m.size)
			return fmt.Errorf("manifest: %d lines waiting: %w", len(m.pending), err)
		}
		m.size += int64(len(p.b))
		m.onDisk++
		m.pending[0] = pendingLine{}
		m.pending = m.pending[1:]
		if m.witness != nil {
			// After the fsync: the witness never runs ahead of the disk.
			m.witness(ManifestWitness{Lines: m.onDisk, LastHash: p.hash, Sealed: p.seal})
		}
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
		return sealLine{s, prev}
	})
	m.sealed = true
	return err
}

// sealLine is the seal's line; its own type tells the witness it is the seal.
type sealLine struct {
	Seal sealJSON `json:"seal"`
	Prev string   `json:"prev"`
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
		lines = append(lines, parseManifestLine(n, data[:i]))
		if i == len(data) {
			break
		}
		data = data[i+1:]
	}
	return lines, torn, nil
}

// parseManifestLine parses line n (1-based) strictly: one JSON object with
// only the fields the recorder writes.
func parseManifestLine(n int, raw []byte) manifestLine {
	l := manifestLine{num: n, raw: raw, hash: lineHash(raw)}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l.line); err != nil {
		l.err = err
	} else if dec.InputOffset() != int64(len(raw)) {
		l.err = errors.New("bytes after the JSON object")
	}
	return l
}

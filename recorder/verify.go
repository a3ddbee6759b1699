package recorder

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Kinds of Problem.
const (
	ProblemModified  = "modified"  // bytes differ from the manifest, or a manifest line was edited
	ProblemMissing   = "missing"   // listed but absent, or a manifest line removed
	ProblemExtra     = "extra"     // present but not listed
	ProblemReordered = "reordered" // manifest lines out of order
	ProblemTruncated = "truncated" // shorter than the manifest says
	ProblemUnsealed  = "unsealed"  // no seal line: live, or crashed and not yet repaired
	ProblemSignature = "signature" // the seal is unsigned or its signature does not verify
	ProblemMalformed = "malformed" // a manifest line that is not one the recorder writes
	ProblemWitness   = "witness"   // the manifest disagrees with the store's record of it
)

// Witness states of a Report.
const (
	WitnessAgrees    = "agrees"    // the manifest holds the line the store last recorded
	WitnessDisagrees = "disagrees" // see the ProblemWitness problem
	WitnessNone      = "none"      // the store has no record of the run
)

// Problem is one thing wrong with a run.
type Problem struct {
	Kind   string `json:"kind"`
	File   string `json:"file"`           // relative to the run folder
	Line   int    `json:"line,omitempty"` // manifest line concerned, 1-based
	Detail string `json:"detail"`
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		if p.File == ManifestName {
			loc = fmt.Sprintf("%s line %d", p.File, p.Line)
		} else {
			loc = fmt.Sprintf("%s (manifest line %d)", p.File, p.Line)
		}
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Kind, p.Detail)
}

// Gap is a stretch in which a stream delivered no frames.
type Gap struct {
	Stream string    `json:"stream"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
}

// StreamEvent is a stream joining a live run after its start or leaving it
// before its end.
type StreamEvent struct {
	Stream string    `json:"stream"`
	Event  string    `json:"event"` // StreamAdded, StreamRemoved
	At     time.Time `json:"at"`
}

// parseStreamEvent checks a stream_event line's fields.
func parseStreamEvent(e *streamEventJSON) (StreamEvent, bool) {
	at, err := parseTime(e.At)
	ok := err == nil && validStreamName(e.Stream) && (e.Event == StreamAdded || e.Event == StreamRemoved)
	return StreamEvent{Stream: e.Stream, Event: e.Event, At: at}, ok
}

// Interruption is a crash that a restart repaired.
type Interruption struct {
	LastWrite time.Time `json:"last_write"`
	Detected  time.Time `json:"detected"`
	Recovered []string  `json:"recovered,omitempty"`
	Truncated []string  `json:"truncated,omitempty"`
	Discarded []string  `json:"discarded,omitempty"`
	TornBytes int       `json:"torn_bytes,omitempty"` // a torn last manifest line cut off, kept in the line
}

func interruptionOf(in *interruptionJSON) Interruption {
	lw, _ := parseTime(in.LastWrite)
	det, _ := parseTime(in.Detected)
	torn, _ := base64.StdEncoding.DecodeString(in.Torn)
	return Interruption{
		LastWrite: lw, Detected: det, Recovered: in.Recovered, Truncated: in.Truncated, Discarded: in.Discarded,
		TornBytes: len(torn),
	}
}

// Report is the outcome of Verify.
type Report struct {
	Dir              string         `json:"-"`
	Segments         int            `json:"segments"`
	Bytes            int64          `json:"bytes"`
	Sealed           bool           `json:"sealed"`
	SealReason       string         `json:"seal_reason,omitempty"`
	Signed           bool           `json:"signed"`
	SignatureChecked bool           `json:"signature_checked"`
	Lines            int            `json:"lines"`             // whole manifest lines
	Witness          string         `json:"witness,omitempty"` // WitnessAgrees, WitnessDisagrees, WitnessNone; "" not consulted
	Gaps             []Gap          `json:"gaps,omitempty"`
	StreamEvents     []StreamEvent  `json:"stream_events,omitempty"`
	Interruptions    []Interruption `json:"interruptions,omitempty"`
	Problems         []Problem      `json:"problems"`
}

// OK says the run is intact.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// VerifyOptions are what Verify checks a run with besides its own files.
type VerifyOptions struct {
	// Key checks the seal's signature; nil leaves it unchecked.
	Key ed25519.PublicKey
	// CheckWitness compares the manifest with Witness, the store's record
	// of it; Witness nil then means the store has none (WitnessNone).
	CheckWitness bool
	Witness      *ManifestWitness
	// Live says the run is being recorded: its manifest may be ahead of
	// the witness and has no seal yet.
	Live bool

	hashed *atomic.Int64 // counts the bytes hashed
}

// Verify checks a run folder against its manifest: the hash chain, every
// segment's size, hash and duration, files not listed, the seal and, with
// pub, the seal's signature. An error means the run could not be checked.
func Verify(runDir string, pub ed25519.PublicKey) (*Report, error) {
	return VerifyContext(context.Background(), runDir, VerifyOptions{Key: pub})
}

// VerifyContext is Verify with a witness to compare the manifest with, and
// a context that stops the hashing when it ends (returning its error).
func VerifyContext(ctx context.Context, runDir string, opts VerifyOptions) (*Report, error) {
	st, err := os.Stat(runDir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", runDir)
	}
	v := &verifier{ctx: ctx, hashed: opts.hashed, rep: &Report{Dir: runDir, Problems: []Problem{}}, dir: runDir, listed: map[string]int{}}
	lines, torn, err := readManifest(filepath.Join(runDir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		v.problem(ProblemMissing, ManifestName, 0, "the run has no manifest")
	} else if err != nil {
		return nil, err
	} else {
		if torn {
			v.problem(ProblemTruncated, ManifestName, len(lines), "the last line is cut off")
		}
		v.checkLines(lines, opts.Key)
		if torn {
			lines = lines[:len(lines)-1]
		}
		v.rep.Lines = len(lines)
	}
	if opts.CheckWitness {
		v.checkWitness(lines, opts)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := v.checkExtra(); err != nil {
		return nil, err
	}
	return v.rep, nil
}

// checkWitness compares the manifest's whole lines with the store's record.
func (v *verifier) checkWitness(lines []manifestLine, opts VerifyOptions) {
	switch {
	case opts.Witness == nil:
		v.rep.Witness = WitnessNone
	default:
		if d := witnessDisagreement(lines, *opts.Witness, opts.Live); d != "" {
			v.rep.Witness = WitnessDisagrees
			v.problem(ProblemWitness, ManifestName, 0, "%s", d)
			return
		}
		v.rep.Witness = WitnessAgrees
	}
}

type verifier struct {
	ctx    context.Context
	hashed *atomic.Int64
	rep    *Report
	dir    string
	listed map[string]int // file → manifest line
}

func (v *verifier) problem(kind, file string, line int, format string, args ...any) {
	v.rep.Problems = append(v.rep.Problems, Problem{Kind: kind, File: file, Line: line, Detail: fmt.Sprintf(format, args...)})
}

func (v *verifier) checkLines(lines []manifestLine, pub ed25519.PublicKey) {
	where := map[string]int{} // line hash → line number
	for _, l := range lines {
		where[l.hash] = l.num
	}
	lastSeq := 0
	var seal *manifestLine
	for i := range lines {
		if v.ctx.Err() != nil {
			return
		}
		l := &lines[i]
		if l.err != nil || l.kind() == "unknown" {
			v.problem(ProblemMalformed, ManifestName, l.num, "not a manifest line")
			continue
		}
		if seal != nil {
			v.problem(ProblemExtra, ManifestName, l.num, "line after the seal (line %d)", seal.num)
		}
		chainOK := v.checkChain(lines, i, where)
		switch l.kind() {
		case "run":
			if l.num != 1 {
				v.problem(ProblemReordered, ManifestName, l.num, "the run line is not the first line")
			}
		case "segment":
			s, err := l.segment()
			if err != nil {
				v.problem(ProblemMalformed, ManifestName, l.num, "%v", err)
				continue
			}
			if chainOK {
				switch {
				case s.Seq <= lastSeq:
					v.problem(ProblemReordered, ManifestName, l.num, "segment seq %d after seq %d", s.Seq, lastSeq)
				case s.Seq > lastSeq+1:
					v.problem(ProblemMissing, ManifestName, l.num, "segment seq %d follows seq %d", s.Seq, lastSeq)
				}
			}
			lastSeq = max(lastSeq, s.Seq)
			v.checkSegment(l.num, s)
		case "gap":
			g := l.line.Gap
			from, err1 := parseTime(g.From)
			to, err2 := parseTime(g.To)
			if err1 != nil || err2 != nil || !validStreamName(g.Stream) {
				v.problem(ProblemMalformed, ManifestName, l.num, "bad gap line")
				continue
			}
			v.rep.Gaps = append(v.rep.Gaps, Gap{Stream: g.Stream, From: from, To: to})
		case "stream_event":
			e, ok := parseStreamEvent(l.line.StreamEvent)
			if !ok {
				v.problem(ProblemMalformed, ManifestName, l.num, "bad stream_event line")
				continue
			}
			v.rep.StreamEvents = append(v.rep.StreamEvents, e)
		case "interruption":
			v.rep.Interruptions = append(v.rep.Interruptions, interruptionOf(l.line.Interruption))
		case "seal":
			seal = l
			v.checkSeal(l, pub)
		}
	}
	if seal == nil {
		v.problem(ProblemUnsealed, ManifestName, 0, "no seal line: the run is live, or was interrupted and not yet repaired")
	}
}

// checkChain checks that line i's prev is the hash of line i-1, and names
// what a break means: a prev found elsewhere is a reordering, one found
// nowhere an edit or a removal.
func (v *verifier) checkChain(lines []manifestLine, i int, where map[string]int) bool {
	l := &lines[i]
	if l.line.Prev == nil {
		v.problem(ProblemMalformed, ManifestName, l.num, "no prev")
		return false
	}
	want := ""
	if i > 0 {
		want = lines[i-1].hash
	}
	prev := *l.line.Prev
	if prev == want {
		return true
	}
	switch n, ok := where[prev]; {
	case ok:
		v.problem(ProblemReordered, ManifestName, l.num, "follows line %d in the hash chain, not line %d", n, i)
	case i == 0 && prev != "":
		v.problem(ProblemMissing, ManifestName, l.num, "the chain does not start here: earlier lines were removed")
	case i == 0:
		v.problem(ProblemModified, ManifestName, l.num, "first line has an empty prev but is not first in the chain")
	default:
		v.problem(ProblemModified, ManifestName, i, "its hash is not line %d's prev: this line was edited or a line after it removed", l.num)
	}
	return false
}

func (v *verifier) checkSegment(line int, s segmentLine) {
	file := s.File
	if path.Clean(file) != file || path.IsAbs(file) || path.Dir(file) != s.Stream ||
		!validStreamName(s.Stream) || !segmentFileRE.MatchString(path.Base(file)) {
		v.problem(ProblemMalformed, ManifestName, line, "segment file %q is not a segment of stream %q", file, s.Stream)
		return
	}
	if first, dup := v.listed[file]; dup {
		v.problem(ProblemModified, ManifestName, line, "%s is already listed on line %d", file, first)
		return
	}
	v.listed[file] = line
	v.rep.Segments++
	v.rep.Bytes += s.Bytes
	p := filepath.Join(v.dir, filepath.FromSlash(file))
	st, err := os.Lstat(p)
	if err != nil {
		v.problem(ProblemMissing, file, line, "listed in the manifest, not on disk")
		return
	}
	if !st.Mode().IsRegular() {
		v.problem(ProblemModified, file, line, "not a regular file")
		return
	}
	if st.Size() < s.Bytes {
		v.problem(ProblemTruncated, file, line, "%d bytes, the manifest says %d", st.Size(), s.Bytes)
		return
	}
	sc, err := scanSegment(v.ctx, p, v.hashed)
	if err != nil {
		if v.ctx.Err() != nil {
			return // VerifyContext returns the context's error
		}
		v.problem(ProblemMissing, file, line, "cannot be read: %v", err)
		return
	}
	if sc.sha256 != s.SHA256 {
		if st.Size() > s.Bytes {
			v.problem(ProblemModified, file, line, "grew from %d to %d bytes", s.Bytes, st.Size())
		} else {
			v.problem(ProblemModified, file, line, "sha256 %s, the manifest says %s", short(sc.sha256), short(s.SHA256))
		}
		return
	}
	// The bytes are the recorded ones; the line's other fields must agree.
	if d := sc.durationMS() - s.DurationMS; d < -1 || d > 1 {
		v.problem(ProblemModified, ManifestName, line, "duration_ms %d, but %s holds %d ms", s.DurationMS, file, sc.durationMS())
	}
	if !sc.wall.IsZero() && fmtTime(sc.wall) != s.Start {
		v.problem(ProblemModified, ManifestName, line, "start %s, but %s started at %s", s.Start, file, fmtTime(sc.wall))
	}
}

func (v *verifier) checkSeal(l *manifestLine, pub ed25519.PublicKey) {
	s := *l.line.Seal
	v.rep.Sealed, v.rep.SealReason, v.rep.Signed = true, s.Reason, s.Sig != ""
	if s.Lines != l.num-1 {
		v.problem(ProblemModified, ManifestName, l.num, "the seal counts %d lines before it, there are %d", s.Lines, l.num-1)
	}
	if pub == nil {
		return
	}
	if err := checkSeal(s, *l.line.Prev, pub); err != nil {
		v.problem(ProblemSignature, ManifestName, l.num, "%v", err)
		return
	}
	v.rep.SignatureChecked = true
}

// checkExtra reports every file in the run folder that the manifest does
// not list.
func (v *verifier) checkExtra() error {
	return filepath.WalkDir(v.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(v.dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == ManifestName {
			return nil
		}
		if _, ok := v.listed[rel]; !ok {
			v.problem(ProblemExtra, rel, 0, "not listed in the manifest")
		}
		return nil
	})
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

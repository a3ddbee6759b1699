package recorder

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SegmentInfo is one segment line of a manifest.
type SegmentInfo struct {
	Seq        int       `json:"seq"`
	Stream     string    `json:"stream"`
	File       string    `json:"file"`
	Start      time.Time `json:"start"`
	DurationMS int64     `json:"duration_ms"`
	Bytes      int64     `json:"bytes"`
	SHA256     string    `json:"sha256"`
}

// VerifyState says how a run stands against its manifest.
type VerifyState struct {
	// State is "ok", "problems", "live" (not checked while recording) or
	// "unchecked" (ListRuns does not hash).
	State     string    `json:"state"`
	Problems  []string  `json:"problems,omitempty"`
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// RunInfo describes a recorded run, for GET /api/v1/sessions/{id}/recordings.
type RunInfo struct {
	ID            string         `json:"id"` // "{session}/{stamp}": the {run} of /api/v1/recordings/{run}/{path}
	Session       string         `json:"session"`
	Started       time.Time      `json:"started"`
	Live          bool           `json:"live"`
	Sealed        bool           `json:"sealed"`
	SealReason    string         `json:"seal_reason,omitempty"`
	Signed        bool           `json:"signed"`
	Bytes         int64          `json:"bytes"`
	Segments      []SegmentInfo  `json:"segments"`
	Gaps          []Gap          `json:"gaps,omitempty"`
	StreamEvents  []StreamEvent  `json:"stream_events,omitempty"`
	Interruptions []Interruption `json:"interruptions,omitempty"`
	Verify        VerifyState    `json:"verify"`
}

// ListRuns reads the manifests of a session's runs, newest first. It does
// not hash segments: Verify is "unchecked" (see Recorder.Recordings).
func ListRuns(root, sessionID string) ([]RunInfo, error) {
	if !nameRE.MatchString(sessionID) {
		return nil, fmt.Errorf("session id %q: want [a-z0-9-]+", sessionID)
	}
	entries, err := os.ReadDir(filepath.Join(root, sessionID))
	if errors.Is(err, fs.ErrNotExist) {
		return []RunInfo{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []RunInfo{}
	for _, e := range entries {
		if !e.IsDir() || !stampRE.MatchString(e.Name()) {
			continue
		}
		info, err := readRunInfo(filepath.Join(root, sessionID, e.Name()), sessionID+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b RunInfo) int { return -strings.Compare(a.ID, b.ID) })
	return out, nil
}

func readRunInfo(dir, id string) (RunInfo, error) {
	session, stamp, _ := strings.Cut(id, "/")
	info := RunInfo{ID: id, Session: session, Segments: []SegmentInfo{}, Verify: VerifyState{State: "unchecked"}}
	info.Started, _ = time.Parse(stampLayout, stamp[:len(stampLayout)])
	lines, _, err := readManifest(filepath.Join(dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return info, nil
	}
	if err != nil {
		return info, err
	}
	for i := range lines {
		l := &lines[i]
		switch l.kind() {
		case "run":
			if t, err := parseTime(l.line.Run.Started); err == nil {
				info.Started = t
			}
		case "segment":
			s, err := l.segment()
			if err != nil {
				continue
			}
			start, _ := parseTime(s.Start)
			info.Segments = append(info.Segments, SegmentInfo{
				Seq: s.Seq, Stream: s.Stream, File: s.File, Start: start,
				DurationMS: s.DurationMS, Bytes: s.Bytes, SHA256: s.SHA256,
			})
			info.Bytes += s.Bytes
		case "gap":
			from, _ := parseTime(l.line.Gap.From)
			to, _ := parseTime(l.line.Gap.To)
			info.Gaps = append(info.Gaps, Gap{Stream: l.line.Gap.Stream, From: from, To: to})
		case "stream_event":
			if e, ok := parseStreamEvent(l.line.StreamEvent); ok {
				info.StreamEvents = append(info.StreamEvents, e)
			}
		case "interruption":
			in := l.line.Interruption
			lw, _ := parseTime(in.LastWrite)
			det, _ := parseTime(in.Detected)
			info.Interruptions = append(info.Interruptions, Interruption{
				LastWrite: lw, Detected: det, Recovered: in.Recovered, Truncated: in.Truncated, Discarded: in.Discarded,
			})
		case "seal":
			info.Sealed, info.SealReason, info.Signed = true, l.line.Seal.Reason, l.line.Seal.Sig != ""
		}
	}
	return info, nil
}

// verifyCacheEntry remembers a run's verification until its files change.
type verifyCacheEntry struct {
	fingerprint string
	state       VerifyState
}

// Recordings is ListRuns with each run's live flag and verify state; a
// sealed run is verified (hashing every segment) once and then again only
// when a file in it changes.
func (r *Recorder) Recordings(sessionID string) ([]RunInfo, error) {
	runs, err := ListRuns(r.cfg.Root, sessionID)
	if err != nil {
		return nil, err
	}
	for i := range runs {
		dir := filepath.Join(r.cfg.Root, filepath.FromSlash(runs[i].ID))
		if r.isLive(dir) {
			runs[i].Live = true
			runs[i].Verify = VerifyState{State: "live"}
			continue
		}
		runs[i].Verify, err = r.verifyCached(dir)
		if err != nil {
			return nil, err
		}
	}
	return runs, nil
}

func (r *Recorder) verifyCached(dir string) (VerifyState, error) {
	fp, err := fingerprint(dir)
	if err != nil {
		return VerifyState{}, err
	}
	r.mu.Lock()
	e, ok := r.cache[dir]
	r.mu.Unlock()
	if ok && e.fingerprint == fp {
		return e.state, nil
	}
	var pub ed25519.PublicKey
	if r.signer.key != nil {
		pub = r.signer.key.Public().(ed25519.PublicKey)
	}
	rep, err := Verify(dir, pub)
	if err != nil {
		return VerifyState{}, err
	}
	st := VerifyState{State: "ok", CheckedAt: r.now().UTC()}
	if !rep.OK() {
		st.State = "problems"
		for _, p := range rep.Problems {
			st.Problems = append(st.Problems, p.String())
		}
	}
	r.mu.Lock()
	r.cache[dir] = verifyCacheEntry{fingerprint: fp, state: st}
	r.mu.Unlock()
	return st, nil
}

// fingerprint changes when any file of a run changes size, time or name.
func fingerprint(dir string) (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %d %v\n", p, info.Size(), info.ModTime().UnixNano(), info.Mode())
		return nil
	})
	return b.String(), err
}

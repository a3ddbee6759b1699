package recorder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"diemcau/pipeline"
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
	// Witness is how the manifest stands against the store's record of
	// it: "agrees", "disagrees" (a problem says how), "none" (no record);
	// empty without a store.
	Witness string `json:"witness,omitempty"`
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
	if !pipeline.ValidID(sessionID) {
		return nil, fmt.Errorf("session id %q: want %s", sessionID, pipeline.IDRule)
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
			info.Interruptions = append(info.Interruptions, interruptionOf(l.line.Interruption))
		case "seal":
			info.Sealed, info.SealReason, info.Signed = true, l.line.Seal.Reason, l.line.Seal.Sig != ""
		}
	}
	return info, nil
}

// Recordings is ListRuns with each run's live flag and verify state. A
// run that is not live is verified (hashing every segment) once, and again
// only when a file in it, the witness's record or the key changes; results
// are kept across restarts with WithVerifyResults. Concurrent calls share
// one verification per run, which stops when ctx ends and no other call
// waits for it; Recordings then returns ctx's error.
func (r *Recorder) Recordings(ctx context.Context, sessionID string) ([]RunInfo, error) {
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
		runs[i].Verify, err = r.verifyRun(ctx, runs[i].ID, dir)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", runs[i].ID, err)
		}
	}
	return runs, nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"diemcau/control/sessions"
	"diemcau/control/store"
	"diemcau/internal/fielderr"
	"diemcau/pipeline"
	"diemcau/recorder"
)

// archiveConfig is the recorder's view of the archive.* keys.
func archiveConfig(cfg *Config) recorder.Config {
	rc := recorder.DefaultConfig()
	a := cfg.Archive
	rc.Root, rc.Segment, rc.Part, rc.Fsync = a.Root, a.Segment, a.Part, a.Fsync
	rc.Retention, rc.MinFree, rc.SigningKey = a.Retention, int64(a.MinFree), a.SigningKey
	return rc
}

// newArchive builds the recorder with the store as its witness and the
// keeper of its verifications.
func newArchive(cfg *Config, st *store.Store, log *slog.Logger) (*recorder.Recorder, error) {
	l := archiveLedger{st}
	rec, err := recorder.New(archiveConfig(cfg), log, recorder.WithWitness(l), recorder.WithVerifyResults(l))
	return rec, fielderr.In("archive", err)
}

// archiveLedger keeps the recorder's witness and verifications in the
// store; the recorder does not know the store.
type archiveLedger struct{ st *store.Store }

func (l archiveLedger) WitnessManifest(ctx context.Context, run string, w recorder.ManifestWitness) error {
	return l.st.WitnessManifest(ctx, run, w.Lines, w.LastHash, w.Sealed)
}

func (l archiveLedger) ManifestWitness(ctx context.Context, run string) (recorder.ManifestWitness, bool, error) {
	w, err := l.st.GetRunWitness(ctx, run)
	if errors.Is(err, store.ErrNotFound) {
		return recorder.ManifestWitness{}, false, nil
	}
	if err != nil {
		return recorder.ManifestWitness{}, false, err
	}
	return recorder.ManifestWitness{Lines: w.Lines, LastHash: w.LastHash, Sealed: w.Sealed}, true, nil
}

func (l archiveLedger) RunRemoved(ctx context.Context, run string) error {
	return l.st.RunRemoved(ctx, run)
}

func (l archiveLedger) LoadVerify(ctx context.Context, run string) (string, recorder.VerifyState, bool, error) {
	v, err := l.st.GetRunVerify(ctx, run)
	if errors.Is(err, store.ErrNotFound) {
		return "", recorder.VerifyState{}, false, nil
	}
	if err != nil {
		return "", recorder.VerifyState{}, false, err
	}
	var st recorder.VerifyState
	if err := json.Unmarshal(v.Result, &st); err != nil {
		return "", recorder.VerifyState{}, false, nil // written by another version: verify again
	}
	return v.Fingerprint, st, true, nil
}

func (l archiveLedger) SaveVerify(ctx context.Context, run, fingerprint string, st recorder.VerifyState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return l.st.PutRunVerify(ctx, store.RunVerify{Run: run, Fingerprint: fingerprint, State: st.State, Result: b, CheckedAt: st.CheckedAt})
}

// sessionRecorder lets the session runtime start archive runs. extra, if
// set, adds streams that are not the session's points (a point node's
// return feed, recorded with its program).
type sessionRecorder struct {
	rec   *recorder.Recorder
	extra func(sessionID string) map[string]*pipeline.Stream
}

func (s sessionRecorder) StartRun(sessionID string, streams map[string]*pipeline.Stream) (sessions.Recording, error) {
	if s.extra != nil {
		for name, st := range s.extra(sessionID) {
			if _, ok := streams[name]; !ok {
				streams[name] = st
			}
		}
	}
	run, err := s.rec.StartRun(sessionID, streams)
	if err != nil {
		return nil, err
	}
	return sessionRun{run}, nil
}

type sessionRun struct{ run *recorder.Run }

func (r sessionRun) Stop() error { return r.run.Stop() }

func (r sessionRun) AddStream(name string, s *pipeline.Stream) error { return r.run.AddStream(name, s) }
func (r sessionRun) RemoveStream(name string) error                  { return r.run.RemoveStream(name) }

func (r sessionRun) Status() sessions.RecordingStatus {
	st := r.run.Status()
	return sessions.RecordingStatus{
		Active: st.Active, Run: st.Run, Bytes: st.Bytes, Segments: st.Segments,
		DiskStopped: st.DiskStopped, Error: st.DiskReason,
		FsyncP99Ms: float64(st.Fsync.P99.Microseconds()) / 1000,
	}
}

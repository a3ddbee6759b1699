package main

import (
	"diemcau/control/sessions"
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

// sessionRecorder lets the session runtime start archive runs.
type sessionRecorder struct{ rec *recorder.Recorder }

func (s sessionRecorder) StartRun(sessionID string, streams map[string]*pipeline.Stream) (sessions.Recording, error) {
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

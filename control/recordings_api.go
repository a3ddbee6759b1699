package control

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"path"

	"diemcau/recorder"
)

// Recordings is what the API reads of the archive.
type Recordings interface {
	// Recordings lists a session's runs with segments and verify state;
	// verifying stops when ctx ends (the client has gone).
	Recordings(ctx context.Context, sessionID string) ([]recorder.RunInfo, error)
	Root() string
}

func (s *Server) handleListRecordings(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.deps.Store != nil {
		if _, err := s.deps.Store.GetSession(r.Context(), id); err != nil {
			writeStoreError(w, err)
			return
		}
	}
	runs, err := s.deps.Recordings.Recordings(r.Context(), id)
	if r.Context().Err() != nil {
		return // the client has gone; nothing to answer
	}
	if err != nil {
		writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "archive", Message: err.Error()})
		return
	}
	if runs == nil {
		runs = []recorder.RunInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

// handleGetRecording serves one segment or manifest with HTTP Range, so a
// browser can play and seek a segment. The recorder refuses any path that
// would leave the archive root.
func (s *Server) handleGetRecording(w http.ResponseWriter, r *http.Request) {
	run := r.PathValue("session") + "/" + r.PathValue("stamp")
	name := r.PathValue("path")
	f, err := recorder.OpenFile(s.deps.Recordings.Root(), run, name)
	switch {
	case errors.Is(err, recorder.ErrBadPath):
		writeError(w, errBadRequest("path", err.Error()))
		return
	case errors.Is(err, fs.ErrNotExist):
		writeError(w, errNotFound("recording file", run+"/"+name))
		return
	case err != nil:
		writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "archive", Message: err.Error()})
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "archive", Message: err.Error()})
		return
	}
	switch path.Ext(name) {
	case ".mp4":
		w.Header().Set("Content-Type", "video/mp4")
	case ".jsonl":
		w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
	}
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, path.Base(name), st.ModTime(), f)
}

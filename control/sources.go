package control

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"diemcau/control/store"
	"diemcau/ingest"
)

// SourceAdmin starts and stops sources at run time (the ingest registry).
type SourceAdmin interface {
	Add(cfg ingest.SourceConfig) (ingest.Source, error)
	Remove(id string) error
}

func (s *Server) handleListSources(w http.ResponseWriter, _ *http.Request) {
	list := s.deps.Sources.List()
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	writeJSON(w, http.StatusOK, map[string]any{"sources": list})
}

func (s *Server) handleGetSource(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st, ok := s.deps.Sources.Status(id)
	if !ok {
		writeError(w, errNotFound("source", id))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

type sourceRequest struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	Transport string `json:"transport"`
}

func (s *Server) handleCreateSource(w http.ResponseWriter, r *http.Request) {
	var req sourceRequest
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, e)
		return
	}
	src := store.Source{ID: req.ID, Name: req.Name, URL: req.URL, Transport: req.Transport, Origin: store.OriginAPI}
	if writeFieldErrors(w, ValidateSource(&src)) {
		return
	}
	if _, ok := s.deps.Sources.Status(src.ID); ok {
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: "source " + quote(src.ID) + " already exists", Field: "id"})
		return
	}
	if _, err := s.deps.Store.CreateSource(r.Context(), src); err != nil {
		writeStoreError(w, err)
		return
	}
	if _, err := s.deps.SourceAdmin.Add(toIngest(src)); err != nil {
		// Keep store and runtime in step: what did not start is not kept.
		_ = s.deps.Store.DeleteSource(context.WithoutCancel(r.Context()), src.ID)
		writeError(w, errBadRequest("url", ingest.RedactError(err, src.URL)))
		return
	}
	st, _ := s.deps.Sources.Status(src.ID)
	w.Header().Set("Location", "/api/v1/sources/"+src.ID)
	writeJSON(w, http.StatusCreated, st)
}

func toIngest(src store.Source) ingest.SourceConfig {
	return ingest.SourceConfig{ID: src.ID, Name: src.Name, URL: src.URL, Transport: src.Transport}
}

func (s *Server) handlePatchSource(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req struct {
		Name      *string `json:"name"`
		URL       *string `json:"url"`
		Transport *string `json:"transport"`
	}
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if s.sourceInRunningSession(r.Context(), id) && (req.URL != nil || req.Transport != nil) {
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: "source " + quote(id) + " feeds a running session: stop it before changing the url or transport", Field: "url"})
		return
	}
	var fieldErrs []FieldError
	updated, err := s.deps.Store.UpdateSource(r.Context(), id, func(src *store.Source) error {
		apply(&src.Name, req.Name)
		apply(&src.URL, req.URL)
		apply(&src.Transport, req.Transport)
		if fieldErrs = ValidateSource(src); len(fieldErrs) > 0 {
			return errInvalidPatch
		}
		return nil
	})
	switch {
	case errors.Is(err, errInvalidPatch):
		writeFieldErrors(w, fieldErrs)
		return
	case err != nil:
		writeStoreError(w, err)
		return
	}
	// A source's settings are fixed for its life: replace it.
	if err := s.deps.SourceAdmin.Remove(id); err != nil && !errors.Is(err, ingest.ErrNoSource) {
		writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()})
		return
	}
	if _, err := s.deps.SourceAdmin.Add(toIngest(updated)); err != nil {
		writeError(w, errBadRequest("url", ingest.RedactError(err, updated.URL)))
		return
	}
	st, _ := s.deps.Sources.Status(id)
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) handleDeleteSource(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.deps.Store.DeleteSource(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			if _, ok := s.deps.Sources.Status(id); !ok {
				writeStoreError(w, err)
				return
			}
		} else {
			writeStoreError(w, err)
			return
		}
	}
	if err := s.deps.SourceAdmin.Remove(id); err != nil && !errors.Is(err, ingest.ErrNoSource) {
		writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// sourceInRunningSession reports whether a running session has a point fed
// by the source.
func (s *Server) sourceInRunningSession(ctx context.Context, id string) bool {
	if s.deps.Sessions == nil {
		return false
	}
	list, err := s.deps.Store.ListSessions(ctx)
	if err != nil {
		return true // unknown: be safe
	}
	for _, sess := range list {
		if _, running := s.deps.Sessions.Running(sess.ID); !running {
			continue
		}
		for _, p := range sess.Points {
			if p.Source == id {
				return true
			}
		}
	}
	return false
}

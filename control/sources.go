package control

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"sort"

	"diemcau/control/store"
	"diemcau/ingest"
)

// SourceAdmin starts, changes and stops sources at run time (the ingest
// registry). Update renames a source in place and restarts it for any other
// change, on the same stream, so a running session's point carries on.
type SourceAdmin interface {
	Add(cfg ingest.SourceConfig) (ingest.Source, error)
	Update(cfg ingest.SourceConfig) (ingest.Source, error)
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
	SubURL    string `json:"sub_url"`
	Transport string `json:"transport"`
	// AllowAnonymous: a push:// source without credentials, on purpose.
	AllowAnonymous bool `json:"allow_anonymous"`
}

func (s *Server) handleCreateSource(w http.ResponseWriter, r *http.Request) {
	var req sourceRequest
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, e)
		return
	}
	src := store.Source{ID: req.ID, Name: req.Name, URL: req.URL, SubURL: req.SubURL, Transport: req.Transport, AllowAnonymous: req.AllowAnonymous, Origin: store.OriginAPI}
	if writeFieldErrors(w, ValidateSource(&src)) {
		return
	}
	if _, ok := s.deps.Sources.Status(src.ID); ok {
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: "source " + quote(src.ID) + " already exists", Field: "id"})
		return
	}
	// A whip:// source gets its publish secret here, shown once in this
	// answer (like an invite's token); only its hash is kept.
	var secret string
	if src.Kind() == "whip" {
		tok, hash, err := NewRandomToken()
		if err != nil {
			writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()})
			return
		}
		secret, src.PublishSHA256 = tok, hex.EncodeToString(hash[:])
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
	if secret != "" {
		writeJSON(w, http.StatusCreated, struct {
			ingest.Status
			PublishSecret string `json:"publish_secret"`
		}{st, secret})
		return
	}
	writeJSON(w, http.StatusCreated, st)
}

func toIngest(src store.Source) ingest.SourceConfig {
	return ingest.SourceConfig{ID: src.ID, Name: src.Name, URL: src.URL, SubURL: src.SubURL, Transport: src.Transport, AllowAnonymous: src.AllowAnonymous}
}

func (s *Server) handlePatchSource(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req struct {
		Name      *string `json:"name"`
		URL       *string `json:"url"`
		SubURL    *string `json:"sub_url"`
		Transport *string `json:"transport"`
		// AllowAnonymous changes restart the source, as url does.
		AllowAnonymous *bool `json:"allow_anonymous"`
	}
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, e)
		return
	}
	var fieldErrs []FieldError
	var before store.Source
	updated, err := s.deps.Store.UpdateSource(r.Context(), id, func(src *store.Source) error {
		before = *src
		apply(&src.Name, req.Name)
		apply(&src.URL, req.URL)
		apply(&src.SubURL, req.SubURL)
		apply(&src.Transport, req.Transport)
		apply(&src.AllowAnonymous, req.AllowAnonymous)
		if src.Kind() != "whip" {
			src.PublishSHA256 = "" // a secret to publish where nobody publishes over WHIP
		}
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
	// A rename renames; a new url or transport restarts the source on the
	// same stream, so the composite and archive of a running session carry
	// on with the new feed.
	_, err = s.deps.SourceAdmin.Update(toIngest(updated))
	if errors.Is(err, ingest.ErrNoSource) {
		// Stored but not running (it did not start at boot): start it now.
		_, err = s.deps.SourceAdmin.Add(toIngest(updated))
	}
	if err != nil {
		// What did not start is not kept: the source runs on as it was.
		_, _ = s.deps.Store.UpdateSource(context.WithoutCancel(r.Context()), id, func(src *store.Source) error {
			*src = before
			return nil
		})
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

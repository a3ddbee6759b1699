package control

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"diemcau/control/checks"
	"diemcau/control/store"
)

// Checker runs a pre-session check (control/checks).
type Checker interface {
	Check(ctx context.Context, sessionID, kind string) (store.CheckReport, error)
}

// handleRunCheck probes every point now and answers with the stored report.
// It takes a few seconds (the probes run at once).
func (s *Server) handleRunCheck(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.deps.Store.GetSession(r.Context(), id); err != nil {
		writeStoreError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	rep, err := s.deps.Checker.Check(ctx, id, store.CheckManual)
	if err != nil {
		if errors.Is(err, checks.ErrBusy) {
			writeError(w, &apiError{Status: http.StatusConflict, Code: "busy", Message: err.Error()})
			return
		}
		writeStoreError(w, err)
		return
	}
	w.Header().Set("Location", "/api/v1/sessions/"+id+"/checks/"+strconv.Itoa(rep.N))
	writeJSON(w, http.StatusCreated, rep)
}

func (s *Server) handleListChecks(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.deps.Store.GetSession(r.Context(), id); err != nil {
		writeStoreError(w, err)
		return
	}
	list, err := s.deps.Store.ListChecks(r.Context(), id)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if list == nil {
		list = []store.CheckReport{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"checks": list})
}

func (s *Server) handleGetCheck(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		writeError(w, errBadRequest("n", "want the report number (1, 2, …)"))
		return
	}
	rep, err := s.deps.Store.GetCheck(r.Context(), r.PathValue("id"), n)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

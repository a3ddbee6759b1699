package control

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strconv"
	"time"

	"diemcau/control/store"
)

// statusRecorder remembers the status a handler wrote, for the audit log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// audited records a state-changing call after it ran: who, role, method,
// path, target, result. Paths hold ids only, never tokens or URLs.
func (s *Server) audited(need Role, target func(*http.Request) string, next http.HandlerFunc) http.HandlerFunc {
	return s.require(need, func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		next(rec, r)
		if s.deps.Store == nil {
			return
		}
		p, _ := PrincipalFrom(r.Context())
		a := store.Audit{
			At: time.Now().UTC(), Actor: p.Name, Role: string(p.Role),
			Method: r.Method, Path: r.URL.Path, Target: target(r), Result: rec.status,
		}
		if a.Target == "" {
			// A create names its object only in the answer.
			a.Target = path.Base(w.Header().Get("Location"))
		}
		// The request may be cancelled once answered; the record must still land.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		defer cancel()
		if _, err := s.deps.Store.AppendAudit(ctx, a); err != nil {
			s.log.Error("audit log write failed", "path", a.Path, "err", err)
		}
	})
}

// pathTarget names the object of a call by its path values.
func pathTarget(names ...string) func(*http.Request) string {
	return func(r *http.Request) string {
		out := ""
		for _, n := range names {
			if v := r.PathValue(n); v != "" {
				if out != "" {
					out += "/"
				}
				out += v
			}
		}
		return out
	}
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var before int64
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, errBadRequest("before", "want the id of an entry (a positive integer)"))
			return
		}
		before = n
	}
	limit := store.DefaultAuditLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxAuditLimit {
			writeError(w, errBadRequest("limit", "want 1 to 1000"))
			return
		}
		limit = n
	}
	entries, err := s.deps.Store.ListAudit(r.Context(), before, limit)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	body := map[string]any{"entries": entries}
	if len(entries) == limit {
		body["next"] = "/api/v1/audit?before=" + strconv.FormatInt(entries[len(entries)-1].ID, 10) + "&limit=" + strconv.Itoa(limit)
	}
	writeJSON(w, http.StatusOK, body)
}

// writeStoreError maps the store's sentinel errors to API errors.
func writeStoreError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()})
	case errors.Is(err, store.ErrConflict):
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: err.Error()})
	case errors.Is(err, store.ErrInvalid):
		writeError(w, &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()})
	default:
		writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "store: " + err.Error()})
	}
}

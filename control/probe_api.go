package control

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"diemcau/ingest"
)

// Prober reads a source's feed for a while and reports on it.
type Prober func(ctx context.Context, sourceID string, d time.Duration) (ingest.ProbeReport, error)

// handleProbeSource answers the probe report of a source (?seconds=N, 1-30,
// default 5). A source that cannot be reached is a report too, with its
// error: the technician needs the reason, not a 5xx.
func (s *Server) handleProbeSource(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.deps.Sources.Status(id); !ok {
		writeError(w, errNotFound("source", id))
		return
	}
	secs := 5
	if v := r.URL.Query().Get("seconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 30 {
			writeError(w, errBadRequest("seconds", "want 1 to 30"))
			return
		}
		secs = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(secs)*time.Second+15*time.Second)
	defer cancel()
	rep, err := s.deps.Probe(ctx, id, time.Duration(secs)*time.Second)
	if err != nil && rep.Error == "" {
		rep.Error = err.Error()
	}
	writeJSON(w, http.StatusOK, rep)
}

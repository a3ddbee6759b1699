package control

import (
	"net/http"
	"sort"
)

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

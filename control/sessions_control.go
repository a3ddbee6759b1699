package control

import (
	"errors"
	"net/http"
	"slices"

	"diemcau/control/sessions"
	"diemcau/control/store"
)

// SpecOf turns a stored session into what the session runtime needs.
func SpecOf(sess store.Session) sessions.Spec {
	spec := sessions.Spec{
		ID: sess.ID, Title: sess.Title, Layout: sess.Layout, Focus: sess.Focus, Record: sess.Record,
		Output: sessions.Output{Width: sess.Output.Width, Height: sess.Output.Height, FPS: sess.Output.FPS, BitrateKbps: sess.Output.Bitrate},
	}
	for _, p := range sess.Points {
		spec.Points = append(spec.Points, sessions.Point{ID: p.ID, Source: p.Source, Role: p.Role, Label: p.Label, Gain: p.Gain, Muted: p.Muted})
	}
	return spec
}

func (s *Server) handleStartSession(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Mode string `json:"mode"`
	}
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.Mode != sessions.StateRehearsal && req.Mode != sessions.StateLive {
		writeError(w, errBadRequest("mode", quote(req.Mode)+": want \"rehearsal\" or \"live\""))
		return
	}
	sess, err := s.deps.Store.GetSession(r.Context(), r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if sess.State == store.StateEnded {
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: "session " + quote(sess.ID) + " has ended; its record is sealed. Create a new session"})
		return
	}
	if err := s.deps.Sessions.Start(SpecOf(sess), req.Mode); err != nil {
		status, code := http.StatusBadRequest, "invalid"
		switch {
		case errors.Is(err, sessions.ErrRunning):
			status, code = http.StatusConflict, "conflict"
		case errors.Is(err, sessions.ErrStopping):
			status, code = http.StatusServiceUnavailable, "stopping"
		}
		writeError(w, &apiError{Status: status, Code: code, Message: err.Error()})
		return
	}
	s.writeSessionAfterChange(w, r, sess.ID)
}

func (s *Server) handleStopSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.deps.Store.GetSession(r.Context(), id); err != nil {
		writeStoreError(w, err)
		return
	}
	// The viewers go at once, not after the archive is sealed; and again
	// after, for any that joined while it stopped.
	s.endSession(id)
	err := s.deps.Sessions.Stop(id)
	s.endSession(id)
	if err != nil {
		if errors.Is(err, sessions.ErrNotRunning) {
			writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: err.Error()})
			return
		}
		writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()})
		return
	}
	s.writeSessionAfterChange(w, r, id)
}

// writeSessionAfterChange answers with the session as stored now.
func (s *Server) writeSessionAfterChange(w http.ResponseWriter, r *http.Request, id string) {
	sess, err := s.deps.Store.GetSession(r.Context(), id)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.viewSession(sess))
}

func (s *Server) handlePutLayout(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req struct {
		Layout string `json:"layout"`
		Focus  string `json:"focus"`
	}
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if !slices.Contains(Layouts, req.Layout) {
		writeError(w, errBadRequest("layout", quote(req.Layout)+": want grid, speaker, pip or single"))
		return
	}
	sess, err := s.deps.Store.GetSession(r.Context(), id)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if req.Focus != "" && !slices.ContainsFunc(sess.Points, func(p store.Point) bool { return p.ID == req.Focus }) {
		writeError(w, errBadRequest("focus", "no point "+quote(req.Focus)+" in session "+quote(id)))
		return
	}
	if _, err := s.deps.Store.SetLayout(r.Context(), id, req.Layout, req.Focus); err != nil {
		writeStoreError(w, err)
		return
	}
	if s.deps.Sessions != nil {
		if err := s.deps.Sessions.SetLayout(id, req.Layout, req.Focus); err != nil {
			writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "mixer", Message: err.Error()})
			return
		}
	}
	s.writeSessionAfterChange(w, r, id)
}

func (s *Server) handlePatchPoint(w http.ResponseWriter, r *http.Request) {
	id, pointID := r.PathValue("id"), r.PathValue("point")
	var req struct {
		Gain  *float64 `json:"gain"`
		Muted *bool    `json:"muted"`
		Label *string  `json:"label"`
	}
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.Gain != nil && (*req.Gain < 0 || *req.Gain > 4 || *req.Gain != *req.Gain) {
		writeError(w, errBadRequest("gain", "want 0 to 4 (1 is unchanged)"))
		return
	}
	if req.Label != nil && len(*req.Label) > 200 {
		writeError(w, errBadRequest("label", "at most 200 bytes"))
		return
	}
	p, err := s.deps.Store.UpdatePoint(r.Context(), id, pointID, req.Gain, req.Muted, req.Label)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if s.deps.Sessions != nil {
		sp := sessions.Point{ID: p.ID, Source: p.Source, Role: p.Role, Label: p.Label, Gain: p.Gain, Muted: p.Muted}
		if err := s.deps.Sessions.SetPoint(id, sp); err != nil {
			writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "mixer", Message: err.Error()})
			return
		}
	}
	s.writeSessionAfterChange(w, r, id)
}

package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"diemcau/control/sessions"
	"diemcau/control/store"
	"diemcau/control/whep"
	"diemcau/ingest"
)

// pointView is a point as the API shows it, with its live state: what the
// composite receives from it while the session runs, its source's state
// otherwise.
type pointView struct {
	store.Point
	State ingest.State `json:"state"`
	// Feed: "main", or "sub" while the tile decodes the camera's
	// sub-stream (sources[].sub_url); absent while the point is not mixed.
	Feed string `json:"feed,omitempty"`
	soundView
}

// sessionView is a session with its runtime status (docs/api.md, "Session
// status").
type sessionView struct {
	store.Session
	Points   []pointView `json:"points"`
	Duration string      `json:"duration,omitempty"` // planned length, "2h30m"
	Viewers  int         `json:"viewers"`
	// Renditions counts the viewers on each rendition ("main", "low");
	// ViewerList shows each one's rendition and path.
	Renditions map[string]int           `json:"renditions,omitempty"`
	ViewerList []whep.ViewerStats       `json:"viewer_list,omitempty"`
	Recording  sessions.RecordingStatus `json:"recording"`
	Mixer      *sessions.CompositeStats `json:"mixer,omitempty"`
	Outputs    []OutputStatus           `json:"outputs,omitempty"`
	Error      string                   `json:"error,omitempty"`
}

func (s *Server) viewSession(sess store.Session) sessionView {
	v := sessionView{Session: sess, Points: make([]pointView, 0, len(sess.Points)), Duration: formatDuration(sess.Duration)}
	if s.deps.Sessions != nil {
		if live, ok := s.deps.Sessions.Status(sess.ID); ok {
			v.Recording, v.Mixer, v.Error = live.Recording, live.Mixer, live.Error
		}
	}
	now := time.Now()
	for _, p := range sess.Points {
		pv := pointView{Point: p, State: ingest.StateOffline}
		if st, ok := s.deps.Sources.Status(p.Source); ok {
			pv.State = st.State
		}
		if v.Mixer != nil {
			pv.State = mixedState(v.Mixer.Points, p.ID, pv.State)
			pv.soundView = soundOf(v.Mixer.Points, p.ID, now)
			if i := slices.IndexFunc(v.Mixer.Points, func(m sessions.PointSignal) bool { return m.ID == p.ID }); i >= 0 {
				pv.Feed = v.Mixer.Points[i].Feed
			}
		}
		v.Points = append(v.Points, pv)
	}
	if s.deps.Viewers != nil {
		v.Viewers = s.deps.Viewers(sess.ID)
	}
	if s.deps.ViewerStats != nil {
		if list := s.deps.ViewerStats(sess.ID); len(list) > 0 {
			v.ViewerList, v.Renditions = list, map[string]int{}
			for _, vs := range list {
				v.Renditions[vs.Rendition]++
			}
		}
	}
	if s.deps.Outputs != nil {
		v.Outputs = s.deps.Outputs(sess.ID)
	}
	return v
}

// mixedState is a running point's state as the composite sees it: online
// only while its pictures reach the mix, whatever its source reports (a
// source online whose frames do not reach the mix shows its slate, and
// the status must say so). Not online, the source's own state says why
// when it has a reason (connecting, error); otherwise offline.
func mixedState(points []sessions.PointSignal, id string, source ingest.State) ingest.State {
	i := slices.IndexFunc(points, func(p sessions.PointSignal) bool { return p.ID == id })
	switch {
	case i >= 0 && points[i].Live && points[i].Pictures > 0:
		return ingest.StateOnline
	case i >= 0 && points[i].Live: // joined less than the slate's delay ago, no picture yet
		return ingest.StateConnecting
	case source == ingest.StateOnline:
		return ingest.StateOffline
	}
	return source
}

// pointRequest lets gain default to 1: a missing gain is not silence.
type pointRequest struct {
	ID     string   `json:"id"`
	Source string   `json:"source"`
	Role   string   `json:"role"`
	Label  string   `json:"label"`
	Gain   *float64 `json:"gain"`
	Muted  bool     `json:"muted"`
}

type sessionRequest struct {
	ID          string         `json:"id"`
	Title       string         `json:"title"`
	CaseRef     string         `json:"case_ref"`
	Layout      string         `json:"layout"`
	Focus       string         `json:"focus"`
	Output      store.Output   `json:"output"`
	Record      *bool          `json:"record"`
	Start       string         `json:"start"`
	ScheduledAt *time.Time     `json:"scheduled_at"`
	Duration    durationJSON   `json:"duration"`
	Points      []pointRequest `json:"points"`
}

// durationJSON is the planned length as sent: "2h30m" (Go's syntax, as in
// the config file), null, or absent; parseDuration reads it.
type durationJSON = json.RawMessage

func (req sessionRequest) toStore() store.Session {
	sess := store.Session{
		ID: req.ID, Title: req.Title, CaseRef: req.CaseRef, Layout: req.Layout, Focus: req.Focus,
		Output: req.Output, Record: true, Start: req.Start, ScheduledAt: req.ScheduledAt,
		State: store.StateIdle, Origin: store.OriginAPI,
	}
	if req.Record != nil {
		sess.Record = *req.Record
	}
	if req.Start == "" {
		sess.Start = store.StartManual // made through the API: an operator starts it
	}
	for _, p := range req.Points {
		sess.Points = append(sess.Points, toStorePoint(p))
	}
	return sess
}

func toStorePoint(p pointRequest) store.Point {
	g := 1.0
	if p.Gain != nil {
		g = *p.Gain
	}
	return store.Point{ID: p.ID, Source: p.Source, Role: p.Role, Label: p.Label, Gain: g, Muted: p.Muted}
}

func (s *Server) sourceExists(id string) bool {
	_, ok := s.deps.Sources.Status(id)
	return ok
}

// writeFieldErrors answers 400 naming the first bad field; the message lists
// all. It reports whether there was anything to answer.
func writeFieldErrors(w http.ResponseWriter, errs []FieldError) bool {
	if len(errs) == 0 {
		return false
	}
	msg := errs[0].Error()
	for _, e := range errs[1:] {
		msg += "; " + e.Error()
	}
	writeError(w, errBadRequest(errs[0].Field, msg))
	return true
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request) {
	list, err := s.deps.Store.ListSessions(r.Context())
	if err != nil {
		writeStoreError(w, err)
		return
	}
	out := make([]sessionView, 0, len(list))
	for _, sess := range list {
		out = append(out, s.viewSession(sess))
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

func (s *Server) handleGetSession(w http.ResponseWriter, r *http.Request) {
	sess, err := s.deps.Store.GetSession(r.Context(), r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.viewSession(sess))
}

func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request) {
	var req sessionRequest
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, e)
		return
	}
	duration, _, e := parseDuration(req.Duration)
	if e != nil {
		writeError(w, e)
		return
	}
	sess := req.toStore()
	sess.Duration = duration
	if writeFieldErrors(w, ValidateSession(&sess, s.sourceExists)) {
		return
	}
	created, err := s.deps.Store.CreateSession(r.Context(), sess)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	w.Header().Set("Location", "/api/v1/sessions/"+created.ID)
	writeJSON(w, http.StatusCreated, s.viewSession(created))
}

// sessionPatch holds the fields a PATCH may change; absent ones stay. A
// null duration clears it.
type sessionPatch struct {
	Title       *string         `json:"title"`
	CaseRef     *string         `json:"case_ref"`
	Layout      *string         `json:"layout"`
	Focus       *string         `json:"focus"`
	Output      *store.Output   `json:"output"`
	Record      *bool           `json:"record"`
	Start       *string         `json:"start"`
	ScheduledAt *time.Time      `json:"scheduled_at"`
	Duration    durationJSON    `json:"duration"`
	Points      *[]pointRequest `json:"points"`
}

func (s *Server) handlePatchSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var patch sessionPatch
	if e := decodeJSON(r, &patch); e != nil {
		writeError(w, e)
		return
	}
	duration, durationGiven, e := parseDuration(patch.Duration)
	if e != nil {
		writeError(w, e)
		return
	}
	_, running := s.running(id)
	var fieldErrs []FieldError
	var before []store.Point // the stored points, should the running session refuse the new ones
	updated, err := s.deps.Store.UpdateSession(r.Context(), id, func(sess *store.Session) error {
		if running && patch.Output != nil {
			return errSessionRunning
		}
		apply(&sess.Title, patch.Title)
		apply(&sess.CaseRef, patch.CaseRef)
		apply(&sess.Layout, patch.Layout)
		apply(&sess.Focus, patch.Focus)
		apply(&sess.Output, patch.Output)
		apply(&sess.Record, patch.Record)
		apply(&sess.Start, patch.Start)
		if patch.ScheduledAt != nil {
			sess.ScheduledAt = patch.ScheduledAt
		}
		if durationGiven {
			sess.Duration = duration
		}
		if patch.Points != nil {
			before = slices.Clone(sess.Points)
			sess.Points = sess.Points[:0]
			for _, p := range *patch.Points {
				sess.Points = append(sess.Points, toStorePoint(p))
			}
		}
		if running && len(sess.Points) == 0 {
			fieldErrs = []FieldError{{Field: "points", Message: "a running session keeps at least one point"}}
			return errInvalidPatch
		}
		if fieldErrs = ValidateSession(sess, s.sourceExists); len(fieldErrs) > 0 {
			return errInvalidPatch
		}
		return nil
	})
	switch {
	case errors.Is(err, errInvalidPatch):
		writeFieldErrors(w, fieldErrs)
		return
	case errors.Is(err, errSessionRunning):
		// The picture's size, rate and bitrate are the encoder's: changing
		// them while viewers and the archive read it would restart it.
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: "session " + quote(id) + " is running: stop it before changing its output", Field: "output"})
		return
	case err != nil:
		writeStoreError(w, err)
		return
	}
	if running && patch.Points != nil {
		// Points join and leave the running composite (and archive) now,
		// after the store's transaction: the archive reports each stream
		// it adds to the store's witness, which waits for that very
		// transaction. If the composite cannot take them, the stored
		// points go back to what they were.
		if applyErr := s.deps.Sessions.SetPoints(id, SpecOf(updated).Points); applyErr != nil {
			_, rerr := s.deps.Store.UpdateSession(context.WithoutCancel(r.Context()), id, func(sess *store.Session) error {
				sess.Points = before
				return nil
			})
			if rerr != nil {
				s.log.Error("session points not restored after the composite refused them", "session", id, "error", rerr)
			}
			status := http.StatusInternalServerError
			if errors.Is(applyErr, sessions.ErrCompositeFull) {
				status = http.StatusConflict
			}
			writeError(w, &apiError{Status: status, Code: "points", Message: applyErr.Error(), Field: "points"})
			return
		}
	}
	if running && (patch.Layout != nil || patch.Focus != nil) {
		if err := s.deps.Sessions.SetLayout(id, updated.Layout, updated.Focus); err != nil {
			writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "mixer", Message: err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, s.viewSession(updated))
}

var (
	errSessionRunning = errors.New("session running")
	errInvalidPatch   = errors.New("invalid patch")
)

func apply[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (s *Server) running(id string) (string, bool) {
	if s.deps.Sessions == nil {
		return "", false
	}
	return s.deps.Sessions.Running(id)
}

func (s *Server) handleDeleteSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if mode, ok := s.running(id); ok {
		if mode == sessions.StateLive {
			writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: "session " + quote(id) + " is live: stop it first (a live session is never deleted)"})
			return
		}
		s.endSession(id)
		if err := s.deps.Sessions.Stop(id); err != nil && !errors.Is(err, sessions.ErrNotRunning) {
			writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()})
			return
		}
	}
	if err := s.deps.Store.DeleteSession(r.Context(), id); err != nil {
		writeStoreError(w, err)
		return
	}
	s.endSession(id) // its invites went with it
	w.WriteHeader(http.StatusNoContent)
}

// parseDuration reads the duration field: absent (given false), null (0,
// given: it clears), or a string such as "2h30m". ValidateSession checks
// the range.
func parseDuration(raw json.RawMessage) (d time.Duration, given bool, e *apiError) {
	if len(raw) == 0 {
		return 0, false, nil
	}
	if string(raw) == "null" {
		return 0, true, nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return 0, false, errBadRequest("duration", `duration: want a string such as "2h30m" or "90m", or null`)
	}
	d, err := time.ParseDuration(strings.TrimSpace(text))
	if err != nil || d <= 0 {
		return 0, false, errBadRequest("duration", fmt.Sprintf("duration: %q: want a length more than 0 such as \"2h30m\" or \"90m\"", text))
	}
	return d, true, nil
}

// formatDuration writes d the way a person would type it: "2h30m", "45m",
// "2h" rather than Go's "2h30m0s"; "" for 0.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

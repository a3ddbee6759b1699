package control

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"diemcau/control/store"
)

// inviteView is an invite as listed: never its token.
type inviteView struct {
	store.Invite
	Active bool `json:"active"`
}

func (s *Server) handleCreateInvite(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req struct {
		Name string `json:"name"`
		// Point makes the invite a point's: its holder publishes that
		// point's source over WHIP and watches its return feed.
		Point string `json:"point"`
	}
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if strings.TrimSpace(req.Name) == "" || len(req.Name) > 200 {
		writeError(w, errBadRequest("name", "who the invite is for: 1 to 200 bytes"))
		return
	}
	sess, err := s.deps.Store.GetSession(r.Context(), id)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if sess.State == store.StateEnded {
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: "session " + quote(id) + " has ended"})
		return
	}
	if req.Point != "" && !sessionHasPoint(sess, req.Point) {
		writeError(w, errBadRequest("point", "session "+quote(id)+" has no point "+quote(req.Point)))
		return
	}
	token, hash, err := NewRandomToken()
	if err != nil {
		writeError(w, &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()})
		return
	}
	inv, err := s.deps.Store.AddInvite(r.Context(), store.Invite{SessionID: id, Name: req.Name, Point: req.Point, TokenHash: hash})
	if err != nil {
		writeStoreError(w, err)
		return
	}
	// The token travels in the fragment, which browsers never send to a
	// server, so it stays out of access logs and Referer headers.
	// A point's invite opens the two-way join page; a viewer's the
	// watch page.
	page := "/watch/"
	if inv.Point != "" {
		page = "/join/"
	}
	join := (&url.URL{Scheme: requestScheme(r), Host: r.Host, Path: page + id, Fragment: "token=" + token}).String()
	w.Header().Set("Location", "/api/v1/sessions/"+id+"/invites/"+inv.ID)
	out := map[string]any{"id": inv.ID, "name": inv.Name, "token": token, "url": join, "created_at": inv.CreatedAt}
	if inv.Point != "" {
		out["point"] = inv.Point
	}
	writeJSON(w, http.StatusCreated, out)
}

func requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func (s *Server) handleListInvites(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	sess, err := s.deps.Store.GetSession(r.Context(), id)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	list, err := s.deps.Store.ListInvites(r.Context(), id)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	out := make([]inviteView, 0, len(list))
	for _, inv := range list {
		out = append(out, inviteView{Invite: inv, Active: inv.RevokedAt == nil && sess.State != store.StateEnded})
	}
	writeJSON(w, http.StatusOK, map[string]any{"invites": out})
}

func (s *Server) handleDeleteInvite(w http.ResponseWriter, r *http.Request) {
	inv, err := s.deps.Store.RevokeInvite(r.Context(), r.PathValue("id"), r.PathValue("iid"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	// Checked only when a viewer connects: those already watching are
	// ended here (docs/api.md: within 2 s).
	s.endInvite(inv.SessionID, inv.ID)
	w.WriteHeader(http.StatusNoContent)
}

// AuthorizeWHEP says whether a WHEP request may watch, and with what
// grant: any operator credential may watch anything; an invite token only
// its own session (sessionID empty: a single source, which invites do not
// open), and only while the invite stands and the session has not ended.
// A point's invite watches the composite and its own point's return feed
// only, not the other points' (point is the return feed asked for, or "").
func (s *Server) AuthorizeWHEP(r *http.Request, sessionID, point string) (Grant, bool) {
	if p, ok := s.authenticate(r); ok {
		return Grant{Token: p.Name}, true
	}
	if sessionID == "" {
		return Grant{}, false
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return Grant{}, false
	}
	inv, err := s.inviteGrant(r.Context(), sha256.Sum256([]byte(strings.TrimSpace(tok))))
	if err != nil || subtle.ConstantTimeCompare([]byte(inv.SessionID), []byte(sessionID)) != 1 {
		return Grant{}, false
	}
	if inv.Point != "" && point != "" && point != inv.Point {
		return Grant{}, false
	}
	return Grant{Invite: inv.ID, Session: inv.SessionID}, true
}

func sessionHasPoint(sess store.Session, point string) bool {
	for _, p := range sess.Points {
		if p.ID == point {
			return true
		}
	}
	return false
}

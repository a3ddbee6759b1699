package control

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// handleInviteSelf answers GET /api/v1/invite for the holder of an invite
// token (the join and viewer pages): which session and point it is for,
// and where to publish and watch. It says nothing a link's holder does not
// already have the right to use, and never the token.
func (s *Server) handleInviteSelf(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok = strings.TrimSpace(tok)
	unauthorized := func() {
		w.Header().Set("WWW-Authenticate", `Bearer realm="diemcau"`)
		writeError(w, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing, unknown or revoked invite token"})
	}
	if tok == "" {
		unauthorized()
		return
	}
	inv, err := s.inviteGrant(r.Context(), sha256.Sum256([]byte(tok)))
	if errors.Is(err, ErrCredentials) {
		unauthorized()
		return
	}
	if err != nil {
		writeStoreError(w, err)
		return
	}
	sess, err := s.deps.Store.GetSession(r.Context(), inv.SessionID)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	out := map[string]any{
		"id": inv.ID, "name": inv.Name, "session": sess.ID, "title": sess.Title, "state": sess.State,
		"whep": "/whep/sessions/" + url.PathEscape(sess.ID),
	}
	for _, p := range sess.Points {
		if p.ID != inv.Point || inv.Point == "" {
			continue
		}
		out["point"], out["point_label"], out["source"] = p.ID, p.Label, p.Source
		out["whep"] = "/whep/sessions/" + url.PathEscape(sess.ID) + "/points/" + url.PathEscape(p.ID)
		out["whip"] = "/whip/ingest/" + url.PathEscape(p.Source)
	}
	writeJSON(w, http.StatusOK, out)
}

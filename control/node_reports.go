package control

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"diemcau/control/checks"
)

// nodeReports keeps the latest report of each point node, by session and
// point. Reports live in memory: a node sends one every few seconds, so a
// restarted hub knows its nodes again within seconds.
type nodeReports struct {
	mu   sync.Mutex
	byID map[string]checks.NodeReport
}

func nodeKey(sessionID, point string) string { return sessionID + "/" + point }

// NodeReport is the latest report of the point node at a point of a
// session; false when that point has no node (or it never reported).
func (s *Server) NodeReport(sessionID, point string) (checks.NodeReport, bool) {
	s.nodes.mu.Lock()
	defer s.nodes.mu.Unlock()
	rep, ok := s.nodes.byID[nodeKey(sessionID, point)]
	return rep, ok
}

// handleNodeReport takes a point node's report (POST /api/v1/invite/report,
// Bearer: the point invite the node was given).
func (s *Server) handleNodeReport(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	inv, err := s.inviteGrant(r.Context(), sha256.Sum256([]byte(strings.TrimSpace(tok))))
	if errors.Is(err, ErrCredentials) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="diemcau"`)
		writeError(w, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing, unknown or revoked invite token"})
		return
	}
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if inv.Point == "" {
		writeError(w, &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: "a viewer's invite has no point node to report"})
		return
	}
	var rep checks.NodeReport
	if e := decodeJSON(r, &rep); e != nil {
		writeError(w, e)
		return
	}
	if len(rep.Sources) > 64 {
		writeError(w, errBadRequest("sources", "at most 64"))
		return
	}
	rep.ReceivedAt = time.Now()
	s.nodes.mu.Lock()
	if s.nodes.byID == nil {
		s.nodes.byID = map[string]checks.NodeReport{}
	}
	s.nodes.byID[nodeKey(inv.SessionID, inv.Point)] = rep
	s.nodes.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

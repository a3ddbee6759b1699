package control

import (
	"net/http"
	"strings"
)

// routes registers every endpoint; openapi.yaml must list the same ones
// (TestOpenAPIMatchesRoutes).
func (s *Server) routes() {
	s.handleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.handleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.deps.Ready != nil && !s.deps.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	s.Handle("GET /metrics", s.newMetricsHandler())
	s.handleFunc("GET /api/v1/openapi.yaml", serveOpenAPI)
	s.handleFunc("GET /api/v1/info", s.require(RoleViewer, s.handleInfo))
	s.handleFunc("GET /api/v1/sources", s.require(RoleOperator, s.handleListSources))
	s.handleFunc("GET /api/v1/sources/{id}", s.require(RoleOperator, s.handleGetSource))
	if s.deps.SourceAdmin != nil {
		src := pathTarget("id")
		s.handleFunc("POST /api/v1/sources", s.audited(RoleAdmin, pathTarget(), s.handleCreateSource))
		s.handleFunc("PATCH /api/v1/sources/{id}", s.audited(RoleAdmin, src, s.handlePatchSource))
		s.handleFunc("DELETE /api/v1/sources/{id}", s.audited(RoleAdmin, src, s.handleDeleteSource))
	}
	if s.deps.Probe != nil {
		s.handleFunc("POST /api/v1/sources/{id}/probe", s.audited(RoleOperator, pathTarget("id"), s.handleProbeSource))
	}
	if s.deps.Store != nil {
		s.sessionRoutes()
	}
	if s.deps.Recordings != nil {
		s.handleFunc("GET /api/v1/sessions/{id}/recordings", s.require(RoleOperator, s.handleListRecordings))
		s.handleFunc("GET /api/v1/recordings/{session}/{stamp}/{path...}", s.require(RoleOperator, s.handleGetRecording))
	}
	s.methodNotAllowed()
	s.mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no API endpoint " + r.Method + " " + r.URL.Path})
	})
}

func (s *Server) sessionRoutes() {
	id := pathTarget("id")
	op := RoleOperator
	s.handleFunc("GET /api/v1/sessions", s.require(op, s.handleListSessions))
	s.handleFunc("POST /api/v1/sessions", s.audited(op, pathTarget(), s.handleCreateSession))
	s.handleFunc("GET /api/v1/sessions/{id}", s.require(op, s.handleGetSession))
	s.handleFunc("PATCH /api/v1/sessions/{id}", s.audited(op, id, s.handlePatchSession))
	s.handleFunc("DELETE /api/v1/sessions/{id}", s.audited(op, id, s.handleDeleteSession))
	s.handleFunc("PUT /api/v1/sessions/{id}/layout", s.audited(op, id, s.handlePutLayout))
	s.handleFunc("PATCH /api/v1/sessions/{id}/points/{point}", s.audited(op, pathTarget("id", "point"), s.handlePatchPoint))
	s.handleFunc("POST /api/v1/sessions/{id}/invites", s.audited(op, id, s.handleCreateInvite))
	s.handleFunc("GET /api/v1/sessions/{id}/invites", s.require(op, s.handleListInvites))
	s.handleFunc("DELETE /api/v1/sessions/{id}/invites/{iid}", s.audited(op, pathTarget("id", "iid"), s.handleDeleteInvite))
	s.handleFunc("GET /api/v1/audit", s.require(op, s.handleAudit))
	s.handleFunc("GET /api/v1/invite", s.handleInviteSelf) // the invite token is its own credential
	s.handleFunc("POST /api/v1/invite/report", s.handleNodeReport)
	if s.deps.Sessions != nil {
		s.handleFunc("POST /api/v1/sessions/{id}/start", s.audited(op, id, s.handleStartSession))
		s.handleFunc("POST /api/v1/sessions/{id}/stop", s.audited(op, id, s.handleStopSession))
		s.handleFunc("GET /api/v1/sessions/{id}/levels", s.require(op, s.handleSessionLevels))
	}
	if s.deps.Checker != nil {
		s.handleFunc("POST /api/v1/sessions/{id}/checks", s.audited(op, id, s.handleRunCheck))
		s.handleFunc("GET /api/v1/sessions/{id}/checks", s.require(op, s.handleListChecks))
		s.handleFunc("GET /api/v1/sessions/{id}/checks/{n}", s.require(op, s.handleGetCheck))
	}
}

func (s *Server) handleFunc(pattern string, h http.HandlerFunc) { s.Handle(pattern, h) }

// methodNotAllowed answers, for every path served, the methods it does not
// serve with a JSON 405 naming those it does (Go's mux would answer in text).
func (s *Server) methodNotAllowed() {
	allow := map[string][]string{}
	var paths []string
	for _, p := range s.patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			continue
		}
		if _, seen := allow[path]; !seen {
			paths = append(paths, path)
		}
		allow[path] = append(allow[path], method)
	}
	for _, path := range paths {
		methods := strings.Join(allow[path], ", ")
		s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", methods)
			writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: r.Method + " is not allowed here; use " + methods})
		})
	}
}

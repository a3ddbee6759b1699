package whep

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"diemcau/pipeline"
)

// Register mounts the WHEP endpoints and the viewer page on a mux, e.g.
// control.Server.Handle.
func (s *Server) Register(handle func(pattern string, h http.Handler)) {
	handle("POST /whep/sessions/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveOffer(w, r, Target{Session: r.PathValue("id")})
	}))
	handle("POST /whep/sessions/{id}/points/{point}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveOffer(w, r, Target{Session: r.PathValue("id"), Point: r.PathValue("point")})
	}))
	handle("POST /whep/sources/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveOffer(w, r, Target{Source: r.PathValue("id")})
	}))
	handle("DELETE /whep/resources/{rid}", http.HandlerFunc(s.serveDelete))
	handle("PATCH /whep/resources/{rid}", http.HandlerFunc(s.servePatch))
	handle("OPTIONS /whep/", http.HandlerFunc(s.serveOptions))
	s.registerWHIP(handle)
	registerPage(handle)
}

// Handler is a mux with only this package's routes (tests, or a server of
// its own).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Register(func(p string, h http.Handler) { mux.Handle(p, h) })
	return mux
}

// cors lets viewer pages on other origins use WHEP. Credentials are bearer
// tokens, never cookies, so any origin may ask.
func cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Location, Link, ETag, Retry-After")
}

func (s *Server) serveOffer(w http.ResponseWriter, r *http.Request, t Target) {
	cors(w)
	// Credentials before anything else: no media resource, not even a
	// lookup, for a caller without them.
	grant, allowed := s.auth(r, t)
	if !allowed {
		writeError(w, errorf(http.StatusUnauthorized, "unauthorized", "the bearer token is missing, wrong, or not valid for %s", t))
		return
	}
	o, herr := readOffer(r, parseOffer)
	if herr != nil {
		writeError(w, herr)
		return
	}
	stream, herr := s.resolve(t)
	if herr != nil {
		writeError(w, herr)
		return
	}
	tracks := stream.Tracks()
	var bframes bool
	for _, tr := range tracks {
		bframes = bframes || s.isReordered(tr)
	}
	plan, herr := planMedia(o, tracks, bframes)
	if herr != nil {
		writeError(w, herr)
		return
	}
	v, answer, herr := s.newViewer(r.Context(), t, grant, quotaOf(grant, r), stream, o, plan)
	if herr != nil {
		writeError(w, herr)
		return
	}
	s.writeAnswer(w, "/whep/resources/"+v.id, v.id, answer)
	s.log.Debug("viewer answered", "viewer", v.id, "target", t.String(), "remote", r.RemoteAddr)
}

// writeAnswer is the 201 of a WHEP or WHIP POST: the resource, its ETag
// (for ICE restarts), the ICE servers as Link headers and the SDP answer.
func (s *Server) writeAnswer(w http.ResponseWriter, location, id, answer string) {
	h := w.Header()
	for _, l := range s.iceLinks() {
		h.Add("Link", l)
	}
	h.Set("Location", location)
	h.Set("ETag", `"`+id+`"`)
	h.Set("Content-Type", "application/sdp")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

func (s *Server) resolve(t Target) (*pipeline.Stream, *httpError) {
	if t.Source != "" {
		st, ok := s.resolver.Source(t.Source)
		if !ok || st == nil {
			return nil, errorf(http.StatusNotFound, "not_found", "source %q does not exist", t.Source)
		}
		return st, nil
	}
	st, err := s.resolver.Session(t.Session, t.Point)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, errorf(http.StatusNotFound, "not_found", "%s: %v", t, err)
	case errors.Is(err, ErrNotLive):
		e := errorf(http.StatusConflict, "not_live", "%s is not running: start it (rehearsal or live) first", t)
		e.RetryAfter = 5
		return nil, e
	case err != nil:
		e := errorf(http.StatusServiceUnavailable, "unavailable", "%s: %v", t, err)
		e.RetryAfter = 2
		return nil, e
	case st == nil:
		return nil, errorf(http.StatusNotFound, "not_found", "%s has no stream", t)
	}
	return st, nil
}

// iceLinks are the Link headers that hand viewers the ICE servers (WHEP
// draft, section 4.6, after RFC 8288).
func (s *Server) iceLinks() []string {
	var out []string
	for _, srv := range s.cfg.ICEServers {
		for _, u := range srv.URLs {
			l := "<" + u + `>; rel="ice-server"`
			if srv.Username != "" {
				l += fmt.Sprintf(`; username=%q; credential=%q; credential-type="password"`, srv.Username, srv.Credential)
			}
			out = append(out, l)
		}
	}
	return out
}

func (s *Server) lookup(rid string) *viewer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viewers[rid]
}

func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request) {
	cors(w)
	v := s.lookup(r.PathValue("rid"))
	if v == nil {
		writeError(w, errorf(http.StatusNotFound, "not_found", "no WHEP resource %q (ended already?)", r.PathValue("rid")))
		return
	}
	if _, allowed := s.auth(r, v.target); !allowed {
		writeError(w, errorf(http.StatusUnauthorized, "unauthorized", "the bearer token is missing, wrong, or not valid for %s", v.target))
		return
	}
	v.close("ended by the viewer (DELETE)")
	w.WriteHeader(http.StatusOK)
}

func (s *Server) servePatch(w http.ResponseWriter, _ *http.Request) {
	cors(w)
	w.Header().Set("Allow", "DELETE, OPTIONS")
	writeError(w, errorf(http.StatusMethodNotAllowed, "no_trickle",
		"trickle ICE and ICE restart are not supported: the answer carries every candidate; to reconnect, DELETE this resource and POST a new offer"))
}

// serveOptions answers CORS preflights, and a plain OPTIONS on an offer URL
// with the ICE servers (WHEP draft: a player may ask before it makes its
// offer); those are given only to callers that may watch.
func (s *Server) serveOptions(w http.ResponseWriter, r *http.Request) {
	t, offerURL := targetOf(r.URL.Path)
	answerOptions(w, r, offerURL, func() []string {
		if _, allowed := s.auth(r, t); allowed {
			return s.iceLinks()
		}
		return nil
	})
}

// answerOptions answers an OPTIONS on a WHEP or WHIP URL: a CORS
// preflight, or the methods of the URL, an offer URL's with the ICE
// servers iceLinks gives (none to a caller that may not use them).
func answerOptions(w http.ResponseWriter, r *http.Request, offerURL bool, iceLinks func() []string) {
	cors(w)
	h := w.Header()
	if r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "POST, DELETE, PATCH, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if offerURL {
		h.Set("Allow", "POST, OPTIONS")
		h.Set("Accept-Post", "application/sdp")
		for _, l := range iceLinks() {
			h.Add("Link", l)
		}
	} else {
		h.Set("Allow", "DELETE, PATCH, OPTIONS")
	}
	w.WriteHeader(http.StatusNoContent)
}

// targetOf reads the target of an offer URL.
func targetOf(path string) (Target, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 3 && parts[0] == "whep" && parts[1] == "sessions":
		return Target{Session: parts[2]}, true
	case len(parts) == 5 && parts[0] == "whep" && parts[1] == "sessions" && parts[3] == "points":
		return Target{Session: parts[2], Point: parts[4]}, true
	case len(parts) == 3 && parts[0] == "whep" && parts[1] == "sources":
		return Target{Source: parts[2]}, true
	}
	return Target{}, false
}

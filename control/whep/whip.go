package whep

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"diemcau/ingest"
)

// PublishAuthorizer says whether a WHIP request may publish into a
// source, and with what grant (ending the grant ends the publisher). A
// refusal is a *Refusal naming the HTTP status.
type PublishAuthorizer func(r *http.Request, source string) (Grant, error)

// Refusal is a PublishAuthorizer's answer other than yes.
type Refusal struct {
	Status  int
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// WHIPSources finds the whip:// sources publishers feed (the ingest
// registry); false when the id names none running.
type WHIPSources func(id string) (*ingest.WHIPSource, bool)

// whipState is the WHIP side of the server, guarded by Server.mu.
type whipState struct {
	sources    WHIPSources
	auth       PublishAuthorizer
	publishers map[string]*publisher
}

// EnableWHIP turns on WHIP ingest (RFC 9725) on the same ICE port as the
// viewers. Call before Run; without it the WHIP endpoints answer 404.
func (s *Server) EnableWHIP(sources WHIPSources, auth PublishAuthorizer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.whip = whipState{sources: sources, auth: auth, publishers: map[string]*publisher{}}
}

// registerWHIP mounts the WHIP endpoints.
func (s *Server) registerWHIP(handle func(pattern string, h http.Handler)) {
	handle("POST /whip/ingest/{source}", http.HandlerFunc(s.servePublish))
	handle("DELETE /whip/resources/{rid}", http.HandlerFunc(s.serveUnpublish))
	handle("PATCH /whip/resources/{rid}", http.HandlerFunc(s.servePatch))
	handle("OPTIONS /whip/", http.HandlerFunc(s.serveWHIPOptions))
}

func (s *Server) whipEnabled() (whipState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.whip, s.whip.auth != nil
}

func (s *Server) servePublish(w http.ResponseWriter, r *http.Request) {
	cors(w)
	ws, ok := s.whipEnabled()
	if !ok {
		writeError(w, errorf(http.StatusNotFound, "not_found", "WHIP ingest is not enabled on this server"))
		return
	}
	id := r.PathValue("source")
	grant, err := ws.auth(r, id)
	if err != nil {
		var ref *Refusal
		if !errors.As(err, &ref) {
			ref = &Refusal{Status: http.StatusServiceUnavailable, Message: "cannot check the credentials now"}
		}
		code := map[int]string{401: "unauthorized", 403: "forbidden", 404: "not_found", 400: "not_whip"}[ref.Status]
		if code == "" {
			code = "unavailable"
		}
		s.countPublishRefused(code)
		writeError(w, errorf(ref.Status, code, "%s", ref.Message))
		return
	}
	// An offer that is not WHIP's is a refusal, counted; one that cannot
	// be read is not.
	o, herr := readOffer(r, func(body []byte) (*whipOffer, *httpError) {
		o, herr := parseWHIPOffer(body)
		if herr != nil {
			s.countPublishRefused(herr.Code)
		}
		return o, herr
	})
	if herr != nil {
		writeError(w, herr)
		return
	}
	src, ok := ws.sources(id)
	if !ok {
		writeError(w, errorf(http.StatusNotFound, "not_found", "source %q is not running as a whip:// source", id))
		return
	}
	p, answer, herr := s.newPublisher(r, id, grant, src, o)
	if herr != nil {
		s.countPublishRefused(herr.Code)
		writeError(w, herr)
		return
	}
	s.writeAnswer(w, "/whip/resources/"+p.id, p.id, answer)
}

func (s *Server) lookupPublisher(rid string) *publisher {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.whip.publishers[rid]
}

// serveUnpublish ends a publisher. The resource id is the capability: it
// is random, unguessable and given only to the publisher (RFC 9725 lets a
// client DELETE without credentials it may no longer hold, e.g. a revoked
// invite), so no token is asked for.
func (s *Server) serveUnpublish(w http.ResponseWriter, r *http.Request) {
	cors(w)
	p := s.lookupPublisher(r.PathValue("rid"))
	if p == nil {
		writeError(w, errorf(http.StatusNotFound, "not_found", "no WHIP resource %q (ended already?)", r.PathValue("rid")))
		return
	}
	p.close("ended by the publisher (DELETE)")
	w.WriteHeader(http.StatusOK)
}

// serveWHIPOptions answers CORS preflights (the join page may be served
// from another origin) and, on an ingest URL, the ICE servers to callers
// that may publish.
func (s *Server) serveWHIPOptions(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	ingestURL := len(parts) == 3 && parts[1] == "ingest"
	answerOptions(w, r, ingestURL, func() []string {
		if ws, ok := s.whipEnabled(); ok {
			if _, err := ws.auth(r, parts[2]); err == nil {
				return s.iceLinks()
			}
		}
		return nil
	})
}

// endPublishers closes the publishers match picks.
func (s *Server) endPublishers(reason string, match func(*publisher) bool) int {
	s.mu.Lock()
	victims := picked(s.whip.publishers, match)
	s.mu.Unlock()
	return closeAll(victims, reason)
}

// Publishers counts the WHIP publishers answered, connected or not yet.
func (s *Server) Publishers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.whip.publishers)
}

func (s *Server) countPublishRefused(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.whipRefused == nil {
		s.whipRefused = map[string]uint64{}
	}
	s.whipRefused[code]++
}

// PublishRefused counts refused WHIP offers by error code, for
// diemcau_whip_refused_total{reason}.
func (s *Server) PublishRefused() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.whipRefused)
}

func (p *publisher) String() string { return fmt.Sprintf("publisher %s of source %s", p.id, p.source) }

package ingest

import (
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
)

// Kinds of refused logins, as counted (AuthFailures) and summarised.
const (
	authReadCredentials    = "read_credentials"    // a reader with unknown or revoked credentials
	authReadForbidden      = "read_forbidden"      // a reader whose credentials do not cover the path
	authPublishCredentials = "publish_credentials" // an encoder with wrong credentials
	authPublishBusy        = "publish_busy"        // a second encoder for a source already publishing
)

var authKinds = []struct{ kind, what string }{
	{authReadCredentials, "RTSP readers refused: unknown or revoked credentials"},
	{authReadForbidden, "RTSP readers refused: credentials not valid for the path"},
	{authPublishCredentials, "encoders refused: wrong publish credentials"},
	{authPublishBusy, "encoders refused: the source already has a publisher"},
}

// authSummaryPeriod: refused logins are logged at most once per period
// and kind, with their count, so that someone trying passwords cannot
// flood the log.
const authSummaryPeriod = 10 * time.Second

// accessControl holds who may read: the token check, the grant each
// reader's session came in with, invites revoked while the server runs,
// and the refusals.
type accessControl struct {
	mu         sync.Mutex
	authorizer ReadAuthorizer
	readers    map[*gortsplib.ServerSession]readerGrant
	// revoked invites stay refused here even when a reader's check raced
	// the revocation (checked before, registered after it).
	revoked map[string]struct{}

	failures  map[string]*errorSummary
	period    time.Duration
	lastFlush time.Time
}

type readerGrant struct {
	grant ReadGrant
	path  string
}

func (a *accessControl) init() {
	a.readers = map[*gortsplib.ServerSession]readerGrant{}
	a.revoked = map[string]struct{}{}
	a.failures = map[string]*errorSummary{}
	for _, k := range authKinds {
		a.failures[k.kind] = &errorSummary{what: k.what}
	}
	a.period = authSummaryPeriod
	a.lastFlush = time.Now()
}

func (a *accessControl) failed(kind, msg string) { a.failures[kind].add(msg) }

// flush logs, once a period (or now when force), each kind of refusal
// counted since the last line.
func (a *accessControl) flush(log *slog.Logger, force bool) {
	a.mu.Lock()
	due := force || time.Since(a.lastFlush) >= a.period
	if due {
		a.lastFlush = time.Now()
	}
	a.mu.Unlock()
	if !due {
		return
	}
	for _, k := range authKinds {
		a.failures[k.kind].flush(log)
	}
}

// track records the grant a reader's session came in with; false when
// the grant was revoked meanwhile.
func (a *accessControl) track(ss *gortsplib.ServerSession, g ReadGrant, path string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, gone := a.revoked[g.Invite]; gone && g.Invite != "" {
		return false
	}
	a.readers[ss] = readerGrant{grant: g, path: path}
	return true
}

func (a *accessControl) untrack(ss *gortsplib.ServerSession) {
	a.mu.Lock()
	delete(a.readers, ss)
	a.mu.Unlock()
}

// end closes the sessions match picks; revoke, when set, is an invite id
// refused from now on.
func (a *accessControl) end(revoke string, match func(readerGrant) bool) int {
	a.mu.Lock()
	if revoke != "" {
		a.revoked[revoke] = struct{}{}
	}
	var victims []*gortsplib.ServerSession
	for ss, rg := range a.readers {
		if match(rg) {
			victims = append(victims, ss)
		}
	}
	a.mu.Unlock()
	// Outside the lock: closing calls back into OnSessionClose (untrack).
	for _, ss := range victims {
		ss.Close()
	}
	return len(victims)
}

// EndInvite disconnects, at once, the readers that logged in with the
// invite, and refuses it from now on. It returns how many were ended.
func (s *Server) EndInvite(inviteID string) int {
	if inviteID == "" {
		return 0
	}
	n := s.access.end(inviteID, func(rg readerGrant) bool { return rg.grant.Invite == inviteID })
	if n > 0 {
		s.log.Info("RTSP readers ended: invite revoked", "invite", inviteID, "readers", n)
	}
	return n
}

// EndSession disconnects, at once, the readers of a session's composite
// and return feeds and those an invite of the session let in.
func (s *Server) EndSession(sessionID string) int {
	if sessionID == "" {
		return 0
	}
	prefix := "sessions/" + sessionID
	n := s.access.end("", func(rg readerGrant) bool {
		return rg.grant.Session == sessionID || rg.path == prefix || strings.HasPrefix(rg.path, prefix+"/")
	})
	if n > 0 {
		s.log.Info("RTSP readers ended: session ended", "session", sessionID, "readers", n)
	}
	return n
}

// AuthFailures counts the refused logins by kind since start:
// read_credentials, read_forbidden, publish_credentials, publish_busy.
func (s *Server) AuthFailures() map[string]uint64 {
	out := make(map[string]uint64, len(authKinds))
	for _, k := range authKinds {
		out[k.kind] = s.access.failures[k.kind].Total()
	}
	return out
}

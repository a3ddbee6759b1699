package ingest

import (
	"errors"
	"fmt"
	"net"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/headers"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
)

// Errors a ReadAuthorizer refuses with (wrapped or as they are).
var (
	// ErrReadDenied: the credentials are unknown, revoked or expired.
	ErrReadDenied = errors.New("unknown or revoked credentials")
	// ErrReadForbidden: valid credentials that do not cover the path
	// (an invite of another session, a viewer-only token).
	ErrReadForbidden = errors.New("these credentials may not read this path")
)

// internalReadUser is the user name of the server's own reads
// (LoopbackURL); its password is random per start.
const internalReadUser = "diemcau-internal"

// ReadGrant is what let a reader in; ending it (EndInvite, EndSession)
// ends the readers it let in.
type ReadGrant struct {
	// Who names the credential for the log, never its secret:
	// "token admin", "invite 1a2b…", "rtsp.read_user".
	Who string
	// Invite is the invite id when an invite token let the reader in;
	// Session is that invite's session.
	Invite, Session string
}

// ReadAuthorizer checks the Basic credentials of a reader of path (as
// served: "sessions/demo", "sources/tinh") against the control plane's API
// tokens and invites. It refuses with ErrReadDenied or ErrReadForbidden.
// It is called on the RTSP server's request goroutines and may block
// briefly (a store lookup).
type ReadAuthorizer func(user, pass, path string) (ReadGrant, error)

// SetReadAuthorizer installs the check of API and invite tokens; until it
// is set (or when it is nil) readers can log in only with rtsp.read_user.
// The control plane that holds the tokens is built after the RTSP server.
func (s *Server) SetReadAuthorizer(a ReadAuthorizer) {
	s.access.mu.Lock()
	s.access.authorizer = a
	s.access.mu.Unlock()
}

// authorizeReader decides whether the request may read path: the grant
// that lets it, or the response that refuses it.
//
// Tokens and invites are checked from a Basic answer only: the server keeps
// their SHA-256, and a Digest answer can be checked only by someone who
// holds the plaintext secret. So readers are challenged with Basic alone
// unless rtsp.read_digest is on (then Digest works for rtsp.read_user).
// A first request without credentials is the normal start of a login, not
// worth counting; wrong credentials are counted and summarised.
func (h *rtspHandler) authorizeReader(conn *gortsplib.ServerConn, req *base.Request, path string) (ReadGrant, *base.Response, error) {
	s := h.s
	if s.cfg.AnonymousRead {
		return ReadGrant{Who: "anonymous (rtsp.anonymous_read)"}, nil, nil
	}
	// Called first, credentials or not: it makes the connection's Digest
	// nonce, which the challenge carries when Digest is offered.
	if s.cfg.ReadUser != "" && conn.VerifyCredentials(req, s.cfg.ReadUser, s.cfg.ReadPass) {
		return ReadGrant{Who: "rtsp.read_user"}, nil, nil
	}
	if len(req.Header["Authorization"]) == 0 {
		return ReadGrant{}, s.challenge(), s.challengeErr()
	}
	remote := conn.NetConn().RemoteAddr()
	if isLoopback(remote) && conn.VerifyCredentials(req, internalReadUser, s.internalPass) {
		return ReadGrant{Who: "internal"}, nil, nil
	}
	var a headers.Authorization
	if err := a.Unmarshal(req.Header["Authorization"]); err != nil || a.Method != headers.AuthMethodBasic {
		s.access.failed(authReadCredentials, fmt.Sprintf("/%s from %s (not a Basic login)", path, remote))
		return ReadGrant{}, unauthorized(), liberrors.ErrServerAuth{}
	}
	s.access.mu.Lock()
	check := s.access.authorizer
	s.access.mu.Unlock()
	if check == nil {
		s.access.failed(authReadCredentials, fmt.Sprintf("/%s from %s", path, remote))
		return ReadGrant{}, unauthorized(), liberrors.ErrServerAuth{}
	}
	g, err := check(a.Username, a.BasicPass, path)
	switch {
	case err == nil:
		return g, nil, nil
	case errors.Is(err, ErrReadForbidden):
		s.access.failed(authReadForbidden, fmt.Sprintf("/%s from %s", path, remote))
		return ReadGrant{}, refusal(base.StatusForbidden, "these credentials may not read /%s", path), nil
	case errors.Is(err, ErrReadDenied):
		s.access.failed(authReadCredentials, fmt.Sprintf("/%s from %s", path, remote))
	default:
		// The store did not answer: refused, and said why in the summary.
		s.access.failed(authReadCredentials, fmt.Sprintf("/%s from %s: %v", path, remote, err))
	}
	return ReadGrant{}, unauthorized(), liberrors.ErrServerAuth{}
}

// challenge is the 401 to a reader that sent no credentials. With Digest
// offered, gortsplib writes the challenge (it holds the nonce); with Basic
// alone this one does, because gortsplib's would offer Digest to every
// client, and ffmpeg, VLC and gortsplib pick Digest when offered.
func (s *Server) challenge() *base.Response {
	res := unauthorized()
	if !s.cfg.ReadDigest {
		res.Header = base.Header{"WWW-Authenticate": headers.Authenticate{Method: headers.AuthMethodBasic, Realm: "diemcau"}.Marshal()}
	}
	return res
}

func (s *Server) challengeErr() error {
	if s.cfg.ReadDigest {
		return liberrors.ErrServerAuth{}
	}
	return nil
}

func unauthorized() *base.Response { return &base.Response{StatusCode: base.StatusUnauthorized} }

func isLoopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

package control

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"diemcau/control/store"
)

// Errors of AuthorizeRead, which the RTSP wiring maps to its own.
var (
	// ErrCredentials: the secret matches no token and no standing invite.
	ErrCredentials = errors.New("unknown or revoked credentials")
	// ErrNotAllowed: a valid credential that does not cover the target.
	ErrNotAllowed = errors.New("credential not valid for this target")
)

// Grant is what a credential let in; when the right ends (the invite is
// deleted, the session stops), what it let in is ended (Revoker).
type Grant struct {
	// Token is the name of the API token, when one was used.
	Token string
	// Invite and Session are the invite's id and session, when an invite
	// token was used.
	Invite, Session string
}

// Who names the credential for the log, never its secret.
func (g Grant) Who() string {
	if g.Invite != "" {
		return "invite " + g.Invite
	}
	return "token " + g.Token
}

// Revoker ends the connections a right let in, when the right ends. The
// WHEP viewers and RTSP readers are made after the API (they use its
// auth); cmd/diemcau wires them.
type Revoker interface {
	// EndInvite ends what the invite let in (it was deleted).
	EndInvite(sessionID, inviteID string)
	// EndSession ends every viewer and reader of the session (it stopped
	// or was deleted): its composite is gone, and its invites with it
	// when it ended.
	EndSession(sessionID string)
}

// SetRevoker installs the revoker. Call before Run.
func (s *Server) SetRevoker(r Revoker) { s.deps.Revoker = r }

func (s *Server) endInvite(sessionID, inviteID string) {
	if s.deps.Revoker != nil {
		s.deps.Revoker.EndInvite(sessionID, inviteID)
	}
}

func (s *Server) endSession(sessionID string) {
	if s.deps.Revoker != nil {
		s.deps.Revoker.EndSession(sessionID)
	}
}

// tokenGrant finds the API token whose hash is sum. Every configured hash
// is compared in constant time so timing does not tell which is close.
func (s *Server) tokenGrant(sum [32]byte) (Principal, bool) {
	var found Principal
	matched := 0
	for _, t := range s.cfg.Tokens {
		if subtle.ConstantTimeCompare(sum[:], t.SHA256[:]) == 1 {
			found = Principal{Name: t.Name, Role: t.Role}
			matched = 1
		}
	}
	return found, matched == 1
}

// inviteGrant finds the standing invite whose token hashes to sum: not
// revoked, and its session not ended.
func (s *Server) inviteGrant(ctx context.Context, sum [32]byte) (store.Invite, error) {
	if s.deps.Store == nil {
		return store.Invite{}, ErrCredentials
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	inv, err := s.deps.Store.FindInviteByTokenHash(ctx, sum)
	if errors.Is(err, store.ErrNotFound) {
		return store.Invite{}, ErrCredentials
	}
	if err != nil {
		return store.Invite{}, err
	}
	if inv.RevokedAt != nil || subtle.ConstantTimeCompare(inv.TokenHash[:], sum[:]) != 1 {
		return store.Invite{}, ErrCredentials
	}
	sess, err := s.deps.Store.GetSession(ctx, inv.SessionID)
	if err != nil || sess.State == store.StateEnded {
		return store.Invite{}, ErrCredentials
	}
	return inv, nil
}

// AuthorizeRead checks an RTSP reader's login for path as served
// ("sessions/demo", "sources/tinh"). The password is the secret: an
// operator or admin API token reads everything (any user name, e.g. the
// token's name); an invite token reads its own session's composite only
// (user name: the invite id, or anything; RTSP serves no return feeds).
// It returns ErrCredentials or ErrNotAllowed when it refuses.
func (s *Server) AuthorizeRead(ctx context.Context, user, pass, path string) (Grant, error) {
	_ = user // the secret alone identifies the credential
	if pass == "" {
		return Grant{}, ErrCredentials
	}
	sum := sha256.Sum256([]byte(pass))
	if p, ok := s.tokenGrant(sum); ok {
		if !p.Role.allows(RoleOperator) {
			return Grant{}, fmt.Errorf("token %s has role %s; RTSP reading needs operator: %w", p.Name, p.Role, ErrNotAllowed)
		}
		return Grant{Token: p.Name}, nil
	}
	inv, err := s.inviteGrant(ctx, sum)
	if err != nil {
		return Grant{}, err
	}
	g := Grant{Invite: inv.ID, Session: inv.SessionID}
	if path != "sessions/"+inv.SessionID {
		return g, fmt.Errorf("invite %s is for session %s: %w", inv.ID, inv.SessionID, ErrNotAllowed)
	}
	return g, nil
}

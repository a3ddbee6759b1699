package control

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"diemcau/control/store"
)

// ErrNotWHIP: the source exists but takes no WHIP publishers (its url is
// not whip://).
var ErrNotWHIP = errors.New("not a whip:// source")

// AuthorizeWHIP says whether a WHIP request may publish into sourceID, and
// with what grant (ending it ends the publisher). Two credentials do:
// the source's publish secret, or a standing invite made for a point whose
// source it is (the point's join link). API tokens do not: a publisher
// writes into the record, and an operator who needs to test one makes an
// invite. Errors: ErrCredentials (no or unknown secret), ErrNotAllowed (a
// valid credential for another source), ErrNotWHIP, store.ErrNotFound.
func (s *Server) AuthorizeWHIP(r *http.Request, sourceID string) (Grant, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" || s.deps.Store == nil {
		return Grant{}, ErrCredentials
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	sum := sha256.Sum256([]byte(tok))
	src, srcErr := s.deps.Store.GetSource(ctx, sourceID)

	inv, err := s.inviteGrant(ctx, sum)
	if err == nil {
		g := Grant{Invite: inv.ID, Session: inv.SessionID}
		if srcErr != nil {
			return g, fmt.Errorf("source %q: %w", sourceID, srcErr)
		}
		if src.Kind() != "whip" {
			return g, fmt.Errorf("source %q: %w", sourceID, ErrNotWHIP)
		}
		if inv.Point == "" {
			return g, fmt.Errorf("invite %s is a viewer's, not a point's: %w", inv.ID, ErrNotAllowed)
		}
		sess, err := s.deps.Store.GetSession(ctx, inv.SessionID)
		if err != nil {
			return g, fmt.Errorf("invite %s: %w", inv.ID, err)
		}
		for _, p := range sess.Points {
			if p.ID == inv.Point && p.Source == sourceID {
				return g, nil
			}
		}
		return g, fmt.Errorf("invite %s is for point %s, whose source is not %s: %w", inv.ID, inv.Point, sourceID, ErrNotAllowed)
	}
	if !errors.Is(err, ErrCredentials) {
		return Grant{}, err
	}
	if p, ok := s.tokenGrant(sum); ok {
		// A known API token: say what is wrong with the target rather
		// than "unknown credentials".
		g := Grant{Token: p.Name}
		switch {
		case srcErr != nil:
			return g, fmt.Errorf("source %q: %w", sourceID, srcErr)
		case src.Kind() != "whip":
			return g, fmt.Errorf("source %q: %w", sourceID, ErrNotWHIP)
		}
		return g, fmt.Errorf("API tokens do not publish; use the source's publish secret or a point invite: %w", ErrNotAllowed)
	}
	if srcErr != nil || src.Kind() != "whip" || src.PublishSHA256 == "" {
		return Grant{}, ErrCredentials
	}
	want, err := hex.DecodeString(src.PublishSHA256)
	if err != nil || subtle.ConstantTimeCompare(want, sum[:]) != 1 {
		return Grant{}, ErrCredentials
	}
	return Grant{Token: "publish secret of " + sourceID}, nil
}

// WHIPStatus is the HTTP status and message of an AuthorizeWHIP error.
func WHIPStatus(err error) (int, string) {
	switch {
	case errors.Is(err, ErrCredentials):
		return http.StatusUnauthorized, "the bearer token is missing or wrong: send the source's publish secret or a point invite"
	case errors.Is(err, ErrNotAllowed):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, ErrNotWHIP):
		return http.StatusBadRequest, err.Error() + ": only whip:// sources take WHIP publishers"
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, err.Error()
	}
	return http.StatusServiceUnavailable, "cannot check the credentials now"
}

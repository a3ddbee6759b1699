package whep

// Grant is what let a viewer in: an API token, or an invite of a session.
// Ending it (EndInvite, EndSession) ends the viewers it let in.
type Grant struct {
	// Who names the credential for the log, never its secret.
	Who string
	// Invite is the invite id when an invite token let the viewer in;
	// Session is that invite's session.
	Invite, Session string
}

// admit registers a made viewer, unless its invite was revoked while it
// was being made (the check passed just before the revocation).
func (s *Server) admit(v *viewer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, gone := s.revoked[v.grant.Invite]; gone && v.grant.Invite != "" {
		return false
	}
	s.viewers[v.id] = v
	return true
}

// end closes the viewers match picks; revoke, when set, is an invite id
// refused from now on.
func (s *Server) end(revoke, reason string, match func(*viewer) bool) int {
	s.mu.Lock()
	if revoke != "" {
		s.revoked[revoke] = struct{}{}
	}
	victims := picked(s.viewers, match)
	s.mu.Unlock()
	return closeAll(victims, reason)
}

// picked lists the viewers or publishers in set that match picks. The
// caller holds s.mu, and closes them once it has let go.
func picked[T any](set map[string]T, match func(T) bool) []T {
	var out []T
	for _, x := range set {
		if match(x) {
			out = append(out, x)
		}
	}
	return out
}

// closeAll closes each viewer or publisher with reason and says how many.
func closeAll[T interface{ close(reason string) }](victims []T, reason string) int {
	for _, x := range victims {
		x.close(reason)
	}
	return len(victims)
}

// EndInvite ends, at once, the viewers that came in with the invite, and
// refuses it from now on (the control plane checks it only at POST). It
// returns how many were ended.
func (s *Server) EndInvite(inviteID string) int {
	if inviteID == "" {
		return 0
	}
	n := s.end(inviteID, "invite revoked", func(v *viewer) bool { return v.grant.Invite == inviteID })
	return n + s.endPublishers("invite revoked", func(p *publisher) bool { return p.grant.Invite == inviteID })
}

// EndSession ends, at once, every viewer of the session's composite and
// return feeds, and those an invite of the session let in.
func (s *Server) EndSession(sessionID string) int {
	if sessionID == "" {
		return 0
	}
	n := s.end("", "session ended", func(v *viewer) bool {
		return v.target.Session == sessionID || v.grant.Session == sessionID
	})
	// A point's publisher that came in with the session's invite goes with
	// it; one with its source's publish secret is not the session's.
	return n + s.endPublishers("session ended", func(p *publisher) bool { return p.grant.Session == sessionID })
}

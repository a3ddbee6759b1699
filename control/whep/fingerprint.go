package whep

import (
	"strings"
)

// Fingerprints are the server's DTLS certificate fingerprints as an
// answer carries them ("sha-256 AB:CD:…", a=fingerprint), empty before Run
// has made the certificate. The pre-session check compares them with the
// answer it gets, so that it only trusts media from this server.
func (s *Server) Fingerprints() []string {
	s.mu.Lock()
	cert, running := s.cert, s.running
	s.mu.Unlock()
	if !running {
		return nil
	}
	fps, err := cert.GetFingerprints()
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(fps))
	for _, fp := range fps {
		out = append(out, strings.ToLower(fp.Algorithm)+" "+strings.ToUpper(fp.Value))
	}
	return out
}

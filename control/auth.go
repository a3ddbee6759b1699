package control

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// Role is what a credential may do.
type Role string

// Roles of docs/api.md, from most to least powerful.
const (
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
	RoleViewer   Role = "viewer"
)

// allows reports whether a role may act with the powers of need.
func (r Role) allows(need Role) bool {
	rank := map[Role]int{RoleViewer: 1, RoleOperator: 2, RoleAdmin: 3}
	return rank[r] >= rank[need] && rank[r] > 0
}

// Token is an operator credential as configured: only its hash is kept.
type Token struct {
	Name   string
	Role   Role
	SHA256 [32]byte
}

// ParseTokenHash reads the hex sha256 of a token.
func ParseTokenHash(hexHash string) ([32]byte, error) {
	var h [32]byte
	b, err := hex.DecodeString(hexHash)
	if err != nil || len(b) != 32 {
		return h, fmt.Errorf("want 64 hex digits")
	}
	copy(h[:], b)
	return h, nil
}

// NewRandomToken makes a token of 256 random bits and its hash, for the
// demo's admin credential and for invites.
func NewRandomToken() (token string, hash [32]byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", hash, fmt.Errorf("random token: %w", err)
	}
	token = hex.EncodeToString(b[:])
	return token, sha256.Sum256([]byte(token)), nil
}

// Principal is who made a request.
type Principal struct {
	Name string
	Role Role
}

type principalKey struct{}

// PrincipalFrom returns the authenticated caller of a request.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// authenticate finds the credential of the bearer token (tokenGrant).
func (s *Server) authenticate(r *http.Request) (Principal, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return Principal{}, false
	}
	return s.tokenGrant(sha256.Sum256([]byte(strings.TrimSpace(tok))))
}

// require wraps a handler with authentication and a minimum role.
func (s *Server) require(need Role, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.authenticate(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="diemcau"`)
			writeError(w, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing or unknown bearer token"})
			return
		}
		if !p.Role.allows(need) {
			writeError(w, &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: fmt.Sprintf("role %s may not do this (needs %s)", p.Role, need)})
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

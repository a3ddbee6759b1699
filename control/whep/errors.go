package whep

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Errors a Resolver returns (wrapped) so the answer says what was wrong.
var (
	// ErrNotFound: no such session, point or source (404).
	ErrNotFound = errors.New("not found")
	// ErrNotLive: the session exists but is not running, so there is no
	// composite to watch yet (409).
	ErrNotLive = errors.New("not running")
)

// httpError is an answer other than 201, in the JSON error shape of
// docs/api.md: {"error": {"code", "message", "field"}}.
type httpError struct {
	Status     int    `json:"-"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	Field      string `json:"field,omitempty"`
	RetryAfter int    `json:"-"` // seconds; 0: no Retry-After header
}

func (e *httpError) Error() string { return e.Message }

func errorf(status int, code, format string, args ...any) *httpError {
	return &httpError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *httpError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="diemcau"`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]*httpError{"error": e})
}

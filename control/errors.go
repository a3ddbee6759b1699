package control

import (
	"encoding/json"
	"net/http"
)

// apiError is the error shape of docs/api.md:
// {"error": {"code": "...", "message": "...", "field": "..."}}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func errNotFound(what, id string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: what + " " + quote(id) + " does not exist"}
}

func errBadRequest(field, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: msg, Field: field}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, map[string]*apiError{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

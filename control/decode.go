package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// decodeJSON reads a request body into v, refusing unknown fields, and turns
// every failure into a 400 (or 413) that names the field where it can.
func decodeJSON(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return errBadRequest("", "body holds more than one JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errBadRequest("", "body holds more than one JSON value")
	}
	return nil
}

func jsonError(err error) *apiError {
	var (
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		maxErr    *http.MaxBytesError
		unmarshal *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &maxErr):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: "request body over 1 MiB"}
	case errors.Is(err, io.EOF):
		return errBadRequest("", "empty body: a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errBadRequest("", "malformed JSON: the body ends too early")
	case errors.As(err, &syntax):
		return errBadRequest("", fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, syntax))
	case errors.As(err, &typeErr):
		field := typeErr.Field
		return errBadRequest(field, fmt.Sprintf("%s: want %s, got %s", orWord(field, "body"), typeErr.Type, typeErr.Value))
	case errors.As(err, &unmarshal):
		return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "decoding: " + err.Error()}
	}
	// encoding/json reports unknown fields only as text: `json: unknown field "x"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return errBadRequest(name, fmt.Sprintf("unknown field %q", name))
	}
	return errBadRequest("", "malformed JSON: "+err.Error())
}

func orWord(s, w string) string {
	if s == "" {
		return w
	}
	return s
}

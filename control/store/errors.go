package store

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, checked with errors.Is. The wrapping error names the
// entity and id, e.g. `session "demo": not found`.
var (
	// ErrNotFound: no entity with that id.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the id is taken, or the entity's state forbids the change
	// (a live session, a source that sessions use).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the value cannot be stored (empty id, unknown state, kind
	// or verdict, a point naming no source, a gain that is not a number ≥ 0,
	// malformed JSON). The API validates first; this is the last guard.
	ErrInvalid = errors.New("invalid")
)

// InUseError is returned by DeleteSource when points of sessions use the
// source. errors.Is(err, ErrConflict) holds.
type InUseError struct {
	Source   string
	Sessions []string // sorted, each once
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("source %q is used by session(s) %s: %v", e.Source, strings.Join(e.Sessions, ", "), ErrConflict)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *InUseError) Is(target error) bool { return target == ErrConflict }

func invalidf(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrInvalid)...)
}

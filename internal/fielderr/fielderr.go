// Package fielderr is how a component's Config.Validate names what is
// wrong: by the key below the component's section of the config file
// ("udp_port", "tokens[0].role"), never by the section itself, which is
// the config layer's business (cmd/diemcau puts "webrtc." in front). A
// component can then be configured by other means (tests, another
// program) and still say which field is wrong.
package fielderr

import (
	"errors"
	"fmt"
)

// Error is a problem with one field.
type Error struct {
	Key string // the key below the section
	Err error
}

func (e *Error) Error() string { return e.Key + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// New is a problem with key, described by format and args (%w wraps).
func New(key, format string, args ...any) error {
	return &Error{Key: key, Err: fmt.Errorf(format, args...)}
}

// In puts err under section: a field error's key becomes section.key, the
// errors of a join each so; any other error is prefixed "section: ". nil
// stays nil.
func In(section string, err error) error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var errs []error
		for _, e := range joined.Unwrap() {
			errs = append(errs, In(section, e))
		}
		return errors.Join(errs...)
	}
	var fe *Error
	if errors.As(err, &fe) && fe == err {
		return &Error{Key: section + "." + fe.Key, Err: fe.Err}
	}
	return fmt.Errorf("%s: %w", section, err)
}

package fielderr

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestIn(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"a field", New("udp_port", "%d is not a port", 70000), "webrtc.udp_port: 70000 is not a port"},
		{"a joined list", errors.Join(New("root", "required"), New("part", "too short")), "webrtc.root: required\nwebrtc.part: too short"},
		{"an index", New("tokens[0].role", "%q is not a role", "x"), "webrtc.tokens[0].role: \"x\" is not a role"},
		{"not a field", errors.New("boom"), "webrtc: boom"},
		{"nil", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := In("webrtc", tc.err)
			if tc.err == nil {
				if got != nil {
					t.Fatalf("In(nil) = %v", got)
				}
				return
			}
			if got.Error() != tc.want {
				t.Fatalf("got %q, want %q", got.Error(), tc.want)
			}
		})
	}
	wrapped := In("archive", New("root", "%w", fs.ErrPermission))
	if !errors.Is(wrapped, fs.ErrPermission) {
		t.Fatal("the cause is lost")
	}
	var fe *Error
	if !errors.As(wrapped, &fe) || fe.Key != "archive.root" {
		t.Fatalf("key %v", fe)
	}
	_ = fmt.Sprint(wrapped)
}

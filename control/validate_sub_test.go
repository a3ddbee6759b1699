package control

import (
	"strings"
	"testing"

	"diemcau/control/store"
)

// TestValidateSubURL: a sub-stream is pulled, so only rtsp:// and rtsps://
// with a host pass; the error names sub_url and never echoes the URL.
func TestValidateSubURL(t *testing.T) {
	tests := []struct {
		sub  string
		ok   bool
		want string // in the message
	}{
		{"", true, ""},
		{"rtsp://user:secret@192.0.2.10/stream2", true, ""},
		{"rtsps://user:secret@cam.example/sub", true, ""},
		{"push://user:secret@", false, "want rtsp:// or rtsps://"},
		{"sim://tinh", false, "want rtsp:// or rtsps://"},
		{"http://user:secret@cam/sub", false, "want rtsp:// or rtsps://"},
		{"rtsp:///nohost", false, "no host"},
	}
	for _, tc := range tests {
		t.Run(tc.sub, func(t *testing.T) {
			fe := ValidateSource(&store.Source{ID: "tinh", URL: "rtsp://192.0.2.10/main", SubURL: tc.sub})
			if tc.ok {
				if len(fe) > 0 {
					t.Fatalf("refused: %+v", fe)
				}
				return
			}
			if len(fe) != 1 || fe[0].Field != "sub_url" || !strings.Contains(fe[0].Message, tc.want) {
				t.Fatalf("errors %+v, want one on sub_url saying %q", fe, tc.want)
			}
			if strings.Contains(fe[0].Message, "secret") {
				t.Fatalf("the message echoes the password: %q", fe[0].Message)
			}
		})
	}
}

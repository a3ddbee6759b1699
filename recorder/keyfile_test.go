package recorder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSigningKeyMode: a key others may read or change is refused at New,
// naming signing_key and the fix (cmd/diemcau puts "archive." in front).
func TestSigningKeyMode(t *testing.T) {
	cases := []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o640, false},
		{0o644, false},
		{0o604, false},
		{0o620, false},
	}
	for _, tc := range cases {
		t.Run(tc.mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			key := filepath.Join(dir, "key.pem")
			writeKey(t, key)
			if err := os.Chmod(key, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := New(Config{Root: filepath.Join(dir, "archive"), SigningKey: key}, nil)
			if tc.ok {
				if err != nil {
					t.Fatalf("mode %04o refused: %v", tc.mode, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("mode %04o accepted", tc.mode)
			}
			for _, want := range []string{"signing_key:", "chmod 600 " + key} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

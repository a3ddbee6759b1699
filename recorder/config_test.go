package recorder

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"defaults", DefaultConfig(), ""},
		{"zero durations take defaults", Config{Root: "a"}, ""},
		{"no root", Config{}, "root"},
		{"short segment", Config{Root: "a", Segment: 500 * time.Millisecond, Part: 200 * time.Millisecond}, "segment"},
		{"part longer than segment", Config{Root: "a", Segment: 2 * time.Second, Part: 3 * time.Second}, "part"},
		{"tiny part", Config{Root: "a", Part: time.Millisecond}, "part"},
		{"negative retention", Config{Root: "a", Retention: -time.Hour}, "retention"},
		{"negative min_free", Config{Root: "a", MinFree: -1}, "min_free"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want+":") {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.want)
			}
		})
	}
	_, err := New(Config{Root: t.TempDir(), SigningKey: filepath.Join(t.TempDir(), "none.pem")}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "signing_key:") {
		t.Errorf("New with a missing key: %v, want a signing_key error", err)
	}
}

// Keys made by openssl sign and check seals.
func TestOpenSSLKeys(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "key.pem"), filepath.Join(dir, "pub.pem")
	for _, args := range [][]string{
		{"genpkey", "-algorithm", "ed25519", "-out", priv},
		{"pkey", "-in", priv, "-pubout", "-out", pub},
	} {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Skipf("openssl %v: %v %s", args, err, out)
		}
	}
	key, err := LoadSigningKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	fromPriv, err := LoadPublicKey(priv)
	if err != nil || !pk.Equal(fromPriv) {
		t.Fatalf("public key from the private file: %v", err)
	}
	s := sealJSON{At: fmtTime(time.Now()), Reason: SealStopped, Lines: 3}
	signer{key: key}.sign(&s, "abc")
	if err := checkSeal(s, "abc", pk); err != nil {
		t.Errorf("seal signed with the openssl key: %v", err)
	}
	if err := checkSeal(s, "abd", pk); err == nil {
		t.Error("a seal over another chain verifies")
	}
	if _, err := LoadPublicKey(filepath.Join(dir, "nope")); !os.IsNotExist(err) {
		t.Errorf("missing key file: %v", err)
	}
}

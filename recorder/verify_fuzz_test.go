package recorder

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerify checks a run folder of one segment, both the manifest and the
// segment's bytes fuzzed: verify must report, never panic or give up, on
// whatever a copied or tampered archive holds; each problem names its kind
// and what is wrong; and a run verify passes (sealed, signed with the
// test key) must fail again once one byte of its segment changes. Seeds:
// a signed run the recorder wrote (key: 32 bytes of 7), the same with one
// byte of the segment edited, and with the seal cut off.
func FuzzVerify(f *testing.F) {
	pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	dir := f.TempDir()
	segment := filepath.Join(dir, "sources", "cam", "000001.mp4")
	if err := os.MkdirAll(filepath.Dir(segment), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, manifest, seg []byte) {
		if err := os.WriteFile(filepath.Join(dir, ManifestName), manifest, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(segment, seg, 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := VerifyContext(context.Background(), dir, VerifyOptions{Key: pub})
		if err != nil {
			t.Fatalf("verify gave up: %v", err)
		}
		for _, p := range rep.Problems {
			if p.Kind == "" || p.Detail == "" {
				t.Fatalf("problem without a kind or detail: %+v", p)
			}
		}
		if !rep.OK() {
			return
		}
		if !rep.Sealed || !rep.SignatureChecked {
			t.Fatalf("verify passed a run that is not sealed and signed: %+v", rep)
		}
		if len(seg) == 0 {
			return
		}
		bad := bytes.Clone(seg)
		bad[len(bad)/2] ^= 0x01
		if err := os.WriteFile(segment, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := VerifyContext(context.Background(), dir, VerifyOptions{Key: pub})
		if err != nil || again.OK() {
			t.Fatalf("one byte of the segment changed and verify still passes (err %v)", err)
		}
	})
}

package recorder

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenFileStaysInRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "archive")
	run := filepath.Join(root, "demo", "20250101T080000Z")
	os.MkdirAll(filepath.Join(run, "composite"), 0o755)
	os.WriteFile(filepath.Join(run, ManifestName), []byte("{}\n"), 0o644)
	os.WriteFile(filepath.Join(run, "composite", "000001.mp4"), []byte("mp4"), 0o644)
	secret := filepath.Join(base, "secret.txt")
	os.WriteFile(secret, []byte("secret"), 0o644)
	os.Symlink(secret, filepath.Join(run, "composite", "000002.mp4"))
	os.Symlink(base, filepath.Join(run, "sources"))
	os.Symlink("../../../secret.txt", filepath.Join(run, "rel.mp4"))
	os.Symlink("000001.mp4", filepath.Join(run, "composite", "inside.mp4"))

	cases := []struct {
		name, run, path string
		want            string // content, or "" for an error
		err             error
	}{
		{"manifest", "demo/20250101T080000Z", ManifestName, "{}\n", nil},
		{"segment", "demo/20250101T080000Z", "composite/000001.mp4", "mp4", nil},
		{"symlink inside the run", "demo/20250101T080000Z", "composite/inside.mp4", "mp4", nil},
		{"missing", "demo/20250101T080000Z", "composite/000009.mp4", "", fs.ErrNotExist},
		{"dot dot", "demo/20250101T080000Z", "../../../secret.txt", "", ErrBadPath},
		{"dot dot inside", "demo/20250101T080000Z", "composite/../../x", "", ErrBadPath},
		{"absolute", "demo/20250101T080000Z", "/etc/passwd", "", ErrBadPath},
		{"backslash", "demo/20250101T080000Z", `composite\000001.mp4`, "", ErrBadPath},
		{"empty element", "demo/20250101T080000Z", "composite//000001.mp4", "", ErrBadPath},
		{"empty", "demo/20250101T080000Z", "", "", ErrBadPath},
		{"run with dot dot", "demo/..", ManifestName, "", ErrBadPath},
		{"run without stamp", "demo", ManifestName, "", ErrBadPath},
		{"run absolute", "/demo/20250101T080000Z", ManifestName, "", ErrBadPath},
		{"symlink out of root", "demo/20250101T080000Z", "composite/000002.mp4", "", ErrBadPath},
		{"relative symlink out of root", "demo/20250101T080000Z", "rel.mp4", "", ErrBadPath},
		{"folder symlink out of root", "demo/20250101T080000Z", "sources/secret.txt", "", ErrBadPath},
		{"a folder", "demo/20250101T080000Z", "composite", "", ErrBadPath},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := OpenFile(root, tc.run, tc.path)
			if tc.err != nil {
				if f != nil {
					f.Close()
				}
				if !errors.Is(err, tc.err) {
					t.Fatalf("OpenFile(%q, %q) = %v, want %v", tc.run, tc.path, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b, _ := io.ReadAll(f)
			if string(b) != tc.want {
				t.Errorf("read %q, want %q", b, tc.want)
			}
		})
	}
}

package archtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outside are names of design notes kept outside the repository: someone
// who clones it cannot follow a pointer to them, so comments and docs
// point at docs/ instead. Written in pieces so this file does not match.
var outside = []string{"DESIGN" + ".md", "CONTRACT" + ".md", "STYLE" + ".md", ".." + "/shared"}

// checkedExt are the files a reader follows pointers in.
var checkedExt = map[string]bool{".go": true, ".js": true, ".md": true, ".yaml": true, ".yml": true, ".html": true}

// moduleRoot is the folder holding go.mod, above the test's folder.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// TestNoPointersOutside: no source, script, page or doc of the repository
// refers to design notes that are not in it.
func TestNoPointersOutside(t *testing.T) {
	root := moduleRoot(t)
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !checkedExt[filepath.Ext(path)] {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		rel, _ := filepath.Rel(root, path)
		for n, line := range strings.Split(string(b), "\n") {
			for _, name := range outside {
				if strings.Contains(line, name) {
					t.Errorf("%s:%d mentions %s, which is not in the repository: point at docs/ instead", rel, n+1, name)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("checked only %d files under %s; is the module root right?", files, root)
	}
}

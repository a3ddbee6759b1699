package archtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAPIPathsDocumented: every path of control/openapi.yaml (which a test
// in control keeps equal to the routes) is written out in docs/api.md.
func TestAPIPathsDocumented(t *testing.T) {
	root := moduleRoot(t)
	spec, err := os.ReadFile(filepath.Join(root, "control", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	paths := 0
	for _, line := range strings.Split(string(spec), "\n") {
		// Paths are the keys indented by two spaces under "paths:".
		if !strings.HasPrefix(line, "  /") || !strings.HasSuffix(line, ":") {
			continue
		}
		path := strings.TrimSuffix(strings.TrimPrefix(line, "  "), ":")
		paths++
		if !strings.Contains(string(doc), path) {
			t.Errorf("%s (control/openapi.yaml) is not in docs/api.md", path)
		}
	}
	if paths < 10 {
		t.Fatalf("found only %d paths in control/openapi.yaml", paths)
	}
}

// Package archtest checks the module's layering with `go list`: the media
// packages do not reach up into the control plane, and GStreamer is
// reached through pipeline/gst alone (README.md, "How it works").
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// imports maps every package of the module to its direct imports.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "diemcau/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[f[0]] = f[1:]
	}
	return m
}

func under(pkg, root string) bool { return pkg == root || strings.HasPrefix(pkg, root+"/") }

func TestLayers(t *testing.T) {
	pkgs := imports(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; is the module root right?", len(pkgs))
	}
	media := []string{"diemcau/ingest", "diemcau/mixer", "diemcau/recorder", "diemcau/pipeline"}
	for pkg, imps := range pkgs {
		for _, imp := range imps {
			for _, m := range media {
				if under(pkg, m) && under(imp, "diemcau/control") {
					t.Errorf("%s imports %s: media packages must not depend on the control plane", pkg, imp)
				}
			}
			if strings.HasPrefix(imp, "github.com/go-gst/") && pkg != "diemcau/pipeline/gst" {
				t.Errorf("%s imports %s: only diemcau/pipeline/gst speaks to GStreamer", pkg, imp)
			}
			// Every output packetises through pipeline/h26x: it stays plain
			// Go (no cgo, no codec library) so that any package may use it
			// and its fuzz target builds in seconds.
			std := imp != "C" && !strings.Contains(strings.Split(imp, "/")[0], ".") && !under(imp, "diemcau")
			if pkg == "diemcau/pipeline/h26x" && imp != "diemcau/pipeline" && !std {
				t.Errorf("%s imports %s: the H.264/H.265 package takes only the standard library and diemcau/pipeline", pkg, imp)
			}
		}
	}
}

// TestControlWithoutGStreamer: the HTTP layer, WHEP, the checks, the
// recorder and ingest's core (with their tests) build without go-gst, so
// their tests and fuzz targets compile in seconds and need no cgo. The
// sources that do encode (sim://, camsim) live in subpackages of their own.
func TestControlWithoutGStreamer(t *testing.T) {
	for _, pkg := range []string{"diemcau/control", "diemcau/control/whep", "diemcau/control/checks",
		"diemcau/control/store", "diemcau/control/sessions", "diemcau/ingest", "diemcau/recorder", "diemcau/pipeline",
		"diemcau/pipeline/h26x"} {
		out, err := exec.Command("go", "list", "-test", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/go-gst/") || dep == "diemcau/pipeline/gst" {
				t.Errorf("%s (or its tests) reaches %s", pkg, dep)
				break
			}
		}
	}
}

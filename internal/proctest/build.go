package proctest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildDiemcau builds cmd/diemcau into dir with the extra go build flags
// (e.g. -race) and returns the binary's path. It works from any package
// of the module; the Go build cache makes it quick after the first time.
func BuildDiemcau(dir string, flags ...string) (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	bin := filepath.Join(dir, "diemcau")
	args := append([]string{"build"}, flags...)
	build := exec.Command("go", append(args, "-o", bin, "./cmd/diemcau")...)
	build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building diemcau: %v\n%s", err, out)
	}
	return bin, nil
}

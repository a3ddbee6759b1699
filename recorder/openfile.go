package recorder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"diemcau/pipeline"
)

// ErrBadPath is returned by OpenFile for a path that is malformed or leads
// outside the archive; the API answers 400 (or 404, to say less).
var ErrBadPath = errors.New("path not allowed")

// OpenFile opens a file of a run for reading, for
// GET /api/v1/recordings/{run}/{path}: run is "{session}/{stamp}" (RunInfo.ID)
// and path is relative to the run folder ("manifest.jsonl",
// "composite/000001.mp4"). Absolute paths, "..", empty or odd elements and
// symlinks leading out of root are refused with ErrBadPath; a missing file
// gives an error matching fs.ErrNotExist. Only regular files are opened.
func OpenFile(root, run, name string) (*os.File, error) {
	session, stamp, ok := strings.Cut(run, "/")
	if !ok || !pipeline.ValidID(session) || !stampRE.MatchString(stamp) {
		return nil, fmt.Errorf("run %q: %w", run, ErrBadPath)
	}
	if !cleanRelative(name) {
		return nil, fmt.Errorf("path %q: %w", name, ErrBadPath)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// os.Root resolves every element inside root and refuses symlinks that
	// lead out of it, whatever the path says.
	f, err := r.Open(path.Join(session, stamp, name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("path %q: %w: %v", name, ErrBadPath, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("path %q: not a file: %w", name, ErrBadPath)
	}
	return f, nil
}

// cleanRelative accepts a slash-separated relative path without ".", ".."
// or empty elements, backslashes or NUL.
func cleanRelative(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return false
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return false
		}
	}
	return true
}

package recorder

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// makeDirs makes base/rel and any missing folder on the way (base must
// exist), and returns the folders it made, outermost first.
func makeDirs(base, rel string) ([]string, error) {
	var made []string
	p := base
	for _, el := range splitPath(rel) {
		p = filepath.Join(p, el)
		err := os.Mkdir(p, 0o755)
		switch {
		case err == nil:
			made = append(made, p)
		case errors.Is(err, fs.ErrExist):
			if st, serr := os.Stat(p); serr != nil || !st.IsDir() {
				return made, &fs.PathError{Op: "mkdir", Path: p, Err: fs.ErrExist}
			}
		default:
			return made, err
		}
	}
	return made, nil
}

func splitPath(rel string) []string {
	var out []string
	for rel != "" && rel != "." {
		dir, file := filepath.Split(rel)
		out = append([]string{file}, out...)
		rel = filepath.Clean(dir)
		if rel == string(filepath.Separator) {
			break
		}
	}
	return out
}

// syncMade syncs the parent of each folder made, so that a crash cannot
// lose a folder whose files were synced.
func (r *Recorder) syncMade(made []string) error {
	for _, d := range made {
		if err := r.syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

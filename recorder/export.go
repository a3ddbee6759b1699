package recorder

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ErrExists is returned by Export when the destination already holds the run.
var ErrExists = errors.New("destination exists; refusing to overwrite")

// ExportResult says where a run was copied and how the copy verified.
type ExportResult struct {
	Target string
	Files  int
	Bytes  int64
	Report *Report
}

// Export copies a run folder for long-term keeping (an external drive):
// into dest/{session}/{stamp} when dest is an existing folder, else to dest
// itself. It copies into a hidden ".{name}.partial" folder beside the
// target, fsyncs every file and folder, verifies the copy against its
// manifest (with pub when given) and only then renames it into place; it
// never overwrites. A copy that does not verify is left in the partial
// folder and reported. Progress lines go to progress (may be nil).
func Export(ctx context.Context, runDir, dest string, pub ed25519.PublicKey, progress io.Writer) (*ExportResult, error) {
	if progress == nil {
		progress = io.Discard
	}
	runDir = filepath.Clean(runDir)
	if st, err := os.Stat(filepath.Join(runDir, ManifestName)); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a recorded run (no %s)", runDir, ManifestName)
	}
	target := dest
	if st, err := os.Stat(dest); err == nil && st.IsDir() {
		abs, err := filepath.Abs(runDir)
		if err != nil {
			return nil, err
		}
		target = filepath.Join(dest, filepath.Base(filepath.Dir(abs)), filepath.Base(abs))
	}
	if _, err := os.Lstat(target); err == nil {
		return nil, fmt.Errorf("%s: %w", target, ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	parent := filepath.Dir(target)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	partial := filepath.Join(parent, "."+filepath.Base(target)+".partial")
	if err := os.RemoveAll(partial); err != nil { // an earlier export that failed
		return nil, err
	}

	files, total, err := listFiles(runDir)
	if err != nil {
		return nil, err
	}
	res := &ExportResult{Target: target, Files: len(files)}
	start := time.Now()
	for i, rel := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := copyFileSync(ctx, filepath.Join(runDir, rel), filepath.Join(partial, rel))
		if err != nil {
			return nil, fmt.Errorf("copying %s: %w", rel, err)
		}
		res.Bytes += n
		fmt.Fprintf(progress, "export: %d/%d files, %s of %s (%d%%): %s\n",
			i+1, len(files), fmtBytes(res.Bytes), fmtBytes(total), percent(res.Bytes, total), filepath.ToSlash(rel))
	}
	if err := syncTree(partial); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "export: copied in %v; verifying the copy\n", time.Since(start).Round(time.Millisecond))
	rep, err := Verify(partial, pub)
	if err != nil {
		return nil, fmt.Errorf("verifying the copy: %w", err)
	}
	res.Report = rep
	if !rep.OK() {
		return res, fmt.Errorf("the copy in %s does not verify (%d problems); left there, not renamed to %s", partial, len(rep.Problems), target)
	}
	if _, err := os.Lstat(target); err == nil {
		return nil, fmt.Errorf("%s: %w", target, ErrExists)
	}
	if err := os.Rename(partial, target); err != nil {
		return nil, err
	}
	if err := syncDir(parent); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "export: %s verified: %d segments, %s\n", target, rep.Segments, fmtBytes(res.Bytes))
	return res, nil
}

func percent(n, total int64) int64 {
	if total == 0 {
		return 100
	}
	return n * 100 / total
}

// listFiles lists the regular files of a run folder; anything else (a
// symlink, a device) stops the export rather than being copied blindly.
func listFiles(dir string) ([]string, int64, error) {
	var out []string
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, rel)
		total += info.Size()
		return nil
	})
	return out, total, err
}

func copyFileSync(ctx context.Context, src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.CopyBuffer(out, ctxReader{ctx, in}, make([]byte, 1<<20))
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// syncTree fsyncs every folder of a copied tree, so the names survive a
// power loss as well as the bytes.
func syncTree(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return syncDir(p)
	})
}

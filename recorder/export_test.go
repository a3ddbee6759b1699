package recorder

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExport(t *testing.T) {
	src := recordSmallRun(t, t.TempDir(), "")
	ctx := testContext(t, time.Minute)

	t.Run("copies and verifies", func(t *testing.T) {
		dest := t.TempDir()
		var progress bytes.Buffer
		res, err := Export(ctx, src, dest, nil, &progress)
		if err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(dest, "demo", filepath.Base(src))
		if res.Target != want || !res.Report.OK() || res.Report.Segments != 6 || res.Files != 7 {
			t.Errorf("result %+v, want target %s, verified, 6 segments, 7 files", res, want)
		}
		if !strings.Contains(progress.String(), "export: 7/7 files") || !strings.Contains(progress.String(), "verified") {
			t.Errorf("progress:\n%s", progress.String())
		}
		a, _ := os.ReadFile(filepath.Join(src, "composite", "000002.mp4"))
		b, _ := os.ReadFile(filepath.Join(want, "composite", "000002.mp4"))
		if !bytes.Equal(a, b) {
			t.Error("copied segment differs")
		}
		// Again to the same place: refused, nothing touched.
		_, err = Export(ctx, src, dest, nil, nil)
		if !errors.Is(err, ErrExists) {
			t.Errorf("second export: %v, want ErrExists", err)
		}
	})

	t.Run("to a new folder", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "usb-copy")
		res, err := Export(ctx, src, dest, nil, nil)
		if err != nil || res.Target != dest {
			t.Fatalf("%v, %+v", err, res)
		}
		mustVerify(t, dest)
	})

	t.Run("refuses an existing file", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "taken")
		os.WriteFile(dest, []byte("x"), 0o644)
		if _, err := Export(ctx, src, dest, nil, nil); !errors.Is(err, ErrExists) {
			t.Errorf("%v, want ErrExists", err)
		}
	})

	t.Run("a run that does not verify is not put in place", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "demo", filepath.Base(src))
		copyTree(t, src, bad)
		editFile(t, filepath.Join(bad, "composite", "000001.mp4"), func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
		dest := t.TempDir()
		res, err := Export(ctx, bad, dest, nil, nil)
		if err == nil || res == nil || res.Report.OK() {
			t.Fatalf("export of a modified run: %v", err)
		}
		if _, err := os.Stat(res.Target); !os.IsNotExist(err) {
			t.Errorf("target %s exists after a failed verify", res.Target)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := Export(cctx, src, t.TempDir(), nil, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("%v, want context.Canceled", err)
		}
	})
}

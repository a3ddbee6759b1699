package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"diemcau/control/store"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
	"diemcau/recorder"
)

// runArchive runs a recorder witnessed by st until stop is called; until,
// if not empty, is a log line to wait for (the start-up repair's).
func runArchive(t *testing.T, root, keyFile string, st *store.Store, until string) {
	t.Helper()
	logs := &testkit.LogBuffer{}
	l := archiveLedger{st}
	rec, err := recorder.New(recorder.Config{Root: root, SigningKey: keyFile, GapTimeout: time.Minute},
		slog.New(slog.NewTextHandler(logs, nil)), recorder.WithWitness(l), recorder.WithVerifyResults(l))
	if err != nil {
		t.Fatal(err)
	}
	running := testkit.Start(t, "recorder", rec.Run)
	if until == "" {
		run, err := rec.StartRun("demo", map[string]*pipeline.Stream{"composite": pipeline.NewStream("c")})
		if err != nil {
			t.Fatal(err)
		}
		if err := run.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); until != "" && !strings.Contains(logs.String(), until); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the recorder's log:\n%s", until, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := running.Stop(); err != nil {
		t.Fatal(err)
	}
}

func verifyCommand(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := newArchiveVerifyCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	var ee *exitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.code, out.String()
	}
	t.Fatalf("verify %v: %v", args, err)
	return 0, ""
}

// The tail of a sealed run's manifest is cut off, seal included; after a
// restart (whose repair must leave it alone) `archive verify --store`
// names the cut from the store's witness, and without a key the output
// says the chain proves order, not authorship.
func TestArchiveVerifyWitness(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "archive")
	keyFile := filepath.Join(dir, "key.pem")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	dbFile := filepath.Join(dir, "diemcau.db")
	st, err := store.Open(context.Background(), dbFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	runArchive(t, root, keyFile, st, "")
	runs, _ := filepath.Glob(filepath.Join(root, "demo", "*"))
	if len(runs) != 1 {
		t.Fatalf("runs %v", runs)
	}
	run := runs[0]
	mpath := filepath.Join(run, recorder.ManifestName)
	manifest, _ := os.ReadFile(mpath)
	lines := strings.SplitAfter(strings.TrimSuffix(string(manifest), "\n"), "\n")
	n := len(lines)

	code, out := verifyCommand(t, "--store", dbFile, "--key", keyFile, run)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("witness: the store's record agrees (%d lines sealed)", n)) ||
		strings.Contains(out, "authorship not proved") {
		t.Fatalf("intact run: exit %d\n%s", code, out)
	}
	code, out = verifyCommand(t, "--store", dbFile, run)
	if code != 0 || !strings.Contains(out, "authorship not proved (the seal is signed, but no --key was given to check it)") {
		t.Fatalf("without --key: exit %d\n%s", code, out)
	}

	// Cut the seal off, restart.
	if err := os.WriteFile(mpath, []byte(strings.Join(lines[:n-1], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	runArchive(t, root, keyFile, st, "run not repaired")
	if after, _ := os.ReadFile(mpath); string(after) != strings.Join(lines[:n-1], "") {
		t.Fatalf("repair changed the cut manifest:\n%s", after)
	}
	code, out = verifyCommand(t, "--store", dbFile, "--key", keyFile, run)
	want := fmt.Sprintf("manifest truncated: witness has %d lines sealed, file has %d unsealed", n, n-1)
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("after the cut and a restart: exit %d, want 1 and %q:\n%s", code, want, out)
	}
	if code, out := verifyCommand(t, "--store", filepath.Join(dir, "none.db"), run); code != 2 {
		t.Errorf("a store that is not there: exit %d\n%s", code, out)
	}
}

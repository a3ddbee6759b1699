package store

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func hashOf(c byte) string { return strings.Repeat(string(c), 64) }

// A run's witness only moves forward; a sealed one is frozen; a new run
// of the same name (first line) starts afresh.
func TestRunWitness(t *testing.T) {
	ctx := testCtx(t)
	s := openTemp(t)
	const run = "demo/20260301T080000Z"
	steps := []struct {
		name   string
		run    string
		lines  int
		hash   string
		sealed bool
		err    error
	}{
		{"run line", run, 1, hashOf('a'), false, nil},
		{"segment", run, 2, hashOf('b'), false, nil},
		{"same count again", run, 2, hashOf('b'), false, nil},
		{"a new run of the name", run, 1, hashOf('c'), false, nil},
		{"forward again", run, 3, hashOf('d'), false, nil},
		{"fewer lines", run, 2, hashOf('e'), false, ErrConflict},
		{"seal", run, 4, hashOf('f'), true, nil},
		{"after the seal", run, 5, hashOf('0'), false, ErrConflict},
		{"bad hash", run, 6, "xyz", false, ErrInvalid},
		{"bad run", "../x/20260301T080000Z", 1, hashOf('a'), false, ErrInvalid},
		{"no lines", run, 0, hashOf('a'), false, ErrInvalid},
		{"sealed first line", "demo/20260301T090000Z", 1, hashOf('a'), true, ErrInvalid},
	}
	for _, st := range steps {
		err := s.WitnessManifest(ctx, st.run, st.lines, st.hash, st.sealed)
		if st.err == nil && err != nil || st.err != nil && !errors.Is(err, st.err) {
			t.Fatalf("%s: %v, want %v", st.name, err, st.err)
		}
	}
	w, err := s.GetRunWitness(ctx, run)
	wantErr(t, err, nil)
	if w.Lines != 4 || w.LastHash != hashOf('f') || !w.Sealed || w.RemovedAt != nil {
		t.Fatalf("witness %+v; want 4 lines, hash f…, sealed", w)
	}
	_, err = s.GetRunWitness(ctx, "demo/20990101T000000Z")
	wantErr(t, err, ErrNotFound)

	wantErr(t, s.PutRunVerify(ctx, RunVerify{Run: run, Fingerprint: "fp1", State: "ok", Result: json.RawMessage(`{"state":"ok"}`), CheckedAt: s.stamp()}), nil)
	wantErr(t, s.RunRemoved(ctx, run), nil)
	if w, _ := s.GetRunWitness(ctx, run); w.RemovedAt == nil {
		t.Errorf("removed run not marked: %+v", w)
	}
	_, err = s.GetRunVerify(ctx, run)
	wantErr(t, err, ErrNotFound)
}

// A verification is kept across a reopen, replaced by the next one.
func TestRunVerifyKept(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "diemcau.db")
	s := openAt(t, path)
	const run = "demo/20260301T080000Z"
	wantErr(t, s.PutRunVerify(ctx, RunVerify{Run: run, Fingerprint: "fp1", State: "ok", Result: json.RawMessage(`{"a":1}`), CheckedAt: s.stamp()}), nil)
	wantErr(t, s.PutRunVerify(ctx, RunVerify{Run: run, Fingerprint: "fp2", State: "problems", Result: json.RawMessage(`{"a":2}`), CheckedAt: s.stamp()}), nil)
	wantErr(t, s.PutRunVerify(ctx, RunVerify{Run: run, Fingerprint: "fp3", State: "ok", Result: json.RawMessage(`{bad`), CheckedAt: s.stamp()}), ErrInvalid)
	s.Close()
	s = openAt(t, path)
	v, err := s.GetRunVerify(ctx, run)
	wantErr(t, err, nil)
	if v.Fingerprint != "fp2" || v.State != "problems" || string(v.Result) != `{"a":2}` {
		t.Fatalf("after reopen: %+v", v)
	}
}

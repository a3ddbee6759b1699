package recorder

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"diemcau/internal/testkit"
)

// memWitness is the store's part, in memory.
type memWitness struct {
	mu      sync.Mutex
	m       map[string]ManifestWitness
	removed map[string]bool
}

func newMemWitness() *memWitness {
	return &memWitness{m: map[string]ManifestWitness{}, removed: map[string]bool{}}
}

func (w *memWitness) WitnessManifest(_ context.Context, run string, mw ManifestWitness) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.m[run] = mw
	return nil
}

func (w *memWitness) ManifestWitness(_ context.Context, run string) (ManifestWitness, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	mw, ok := w.m[run]
	return mw, ok, nil
}

func (w *memWitness) RunRemoved(_ context.Context, run string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.removed[run] = true
	return nil
}

func (w *memWitness) get(run string) (ManifestWitness, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	mw, ok := w.m[run]
	return mw, ok
}

// witnessOf is the record a manifest's first n lines make.
func witnessOf(t testing.TB, dir string, n int) ManifestWitness {
	t.Helper()
	lines, _, err := readManifest(filepath.Join(dir, ManifestName))
	if err != nil || len(lines) < n {
		t.Fatalf("manifest: %v, %d lines", err, len(lines))
	}
	return ManifestWitness{Lines: n, LastHash: lines[n-1].hash, Sealed: lines[n-1].line.Seal != nil}
}

// The recorder tells the witness each line as it reaches the disk: after
// a run, the record is the manifest's last line, the seal.
func TestWitnessFollowsManifest(t *testing.T) {
	w := newMemWitness()
	dir := recordSmallRun(t, t.TempDir(), "", WithWitness(w))
	got, ok := w.get(runID(dir))
	lines := manifestOf(t, dir)
	if !ok || got != witnessOf(t, dir, len(lines)) || !got.Sealed {
		t.Fatalf("witness %+v (found %v); the manifest has %d lines ending in the seal", got, ok, len(lines))
	}
}

// Repair at start must never seal over tampering. Each attack is made on a
// copy of a signed, sealed (or crashed) run; the recorder then restarts
// (repair) and verify runs with the key and the witness.
func TestRepairNeverSealsOverTampering(t *testing.T) {
	keyDir := t.TempDir()
	keyFile := filepath.Join(keyDir, "key.pem")
	pub := writeKey(t, keyFile)
	w := newMemWitness()
	orig := recordSmallRun(t, t.TempDir(), keyFile, WithWitness(w))
	id := runID(orig)
	sealed, _ := w.get(id)
	n := sealed.Lines

	cutLines := func(k int) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			editManifest(t, dir, func(l []string) []string { return l[:len(l)-k] })
		}
	}
	corruptLine := func(i int) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			editManifest(t, dir, func(l []string) []string { l[i-1] = "X" + l[i-1][1:]; return l })
		}
	}
	cases := []struct {
		name    string
		tamper  func(t *testing.T, dir string)
		witness bool   // the store's record is there
		refused bool   // repair leaves the manifest byte for byte
		want    string // in verify's problems; "" none at all
		adopted int    // segments an honest repair adopts
	}{
		{
			name: "tail cut with its seal", tamper: cutLines(3), witness: true, refused: true,
			want: "manifest truncated: witness has " + sealed.String() + ", file has " + strconv.Itoa(n-3) + " unsealed",
		},
		{
			name: "seal cut", tamper: cutLines(1), witness: true, refused: true,
			want: "manifest truncated: witness has " + sealed.String(),
		},
		{name: "middle line corrupted", tamper: corruptLine(3), witness: true, refused: true, want: "line 3: malformed"},
		{name: "middle line corrupted, no witness", tamper: corruptLine(3), refused: true, want: "line 3: malformed"},
		{
			name: "middle line corrupted and seal cut", tamper: func(t *testing.T, dir string) {
				corruptLine(3)(t, dir)
				cutLines(1)(t, dir)
			}, refused: true, want: "line 3: malformed",
		},
		{
			name: "seal edited", tamper: func(t *testing.T, dir string) {
				editManifest(t, dir, func(l []string) []string {
					l[len(l)-1] = strings.Replace(l[len(l)-1], `"stopped"`, `"stoppeD"`, 1)
					return l
				})
			}, witness: true, refused: true, want: "manifest rewritten: line " + strconv.Itoa(n),
		},
		{
			name: "segment planted in a crashed run", tamper: func(t *testing.T, dir string) {
				cutLines(1)(t, dir)
				b, _ := os.ReadFile(filepath.Join(dir, "composite", "000001.mp4"))
				os.WriteFile(filepath.Join(dir, "composite", "000009.mp4"), b, 0o644)
			}, refused: true, want: "composite/000009.mp4: extra",
		},
		{
			name: "manifest deleted", tamper: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, ManifestName))
			}, witness: true, refused: true, want: "manifest truncated: witness has " + sealed.String() + ", file has 0 unsealed",
		},
		{
			// The real thing: the crash came before the seal, so the
			// witness never saw it. Repair seals, and verify is content.
			name: "crash before the seal", tamper: func(t *testing.T, dir string) {
				w.WitnessManifest(context.Background(), id, witnessOf(t, dir, n-1))
				cutLines(1)(t, dir)
			}, witness: true,
		},
		{
			// The crash came with a segment of each stream open (their
			// lines and the seal never written): those two are adopted.
			name: "crash with segments open", tamper: func(t *testing.T, dir string) {
				w.WitnessManifest(context.Background(), id, witnessOf(t, dir, n-3))
				cutLines(3)(t, dir)
			}, witness: true, adopted: 2,
		},
		{
			// The limit: without the store's record a cut tail is what a
			// crash leaves. The seal then says "interrupted" and the
			// interruption line names the segments adopted.
			name: "tail cut with its seal, no witness", tamper: cutLines(3), adopted: 2,
		},
		{
			// A crash inside StartRun, before the run line was synced.
			name: "empty run folder", tamper: func(t *testing.T, dir string) {
				os.RemoveAll(dir)
				os.MkdirAll(dir, 0o755)
			},
		},
		{
			name: "crash mid-line", tamper: func(t *testing.T, dir string) {
				w.WitnessManifest(context.Background(), id, witnessOf(t, dir, n-1))
				cutLines(1)(t, dir)
				f, _ := os.OpenFile(filepath.Join(dir, ManifestName), os.O_WRONLY|os.O_APPEND, 0)
				f.WriteString(`{"seal":{"at":"2026`)
				f.Close()
			}, witness: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w.WitnessManifest(context.Background(), id, sealed)
			root := t.TempDir()
			dir := filepath.Join(root, filepath.FromSlash(id))
			copyTree(t, orig, dir)
			tc.tamper(t, dir)
			before, _ := os.ReadFile(filepath.Join(dir, ManifestName))

			opts := []Option{}
			if tc.witness {
				opts = append(opts, WithWitness(w))
			}
			rec, err := New(Config{Root: root, SigningKey: keyFile}, testkit.Logger(t), opts...)
			if err != nil {
				t.Fatal(err)
			}
			rec.repairAll(context.Background()) // what Run does first

			after, _ := os.ReadFile(filepath.Join(dir, ManifestName))
			if tc.refused && !bytes.Equal(before, after) {
				t.Errorf("repair changed the manifest of a tampered run:\n%s\n---\n%s", before, after)
			}
			var wp *ManifestWitness
			if rec, ok := w.get(id); tc.witness && ok {
				wp = &rec
			}
			rep, err := VerifyContext(context.Background(), dir, VerifyOptions{Key: pub, CheckWitness: tc.witness, Witness: wp})
			if err != nil {
				t.Fatal(err)
			}
			var problems []string
			for _, p := range rep.Problems {
				problems = append(problems, p.String())
			}
			all := strings.Join(problems, "\n")
			t.Logf("verify after restart:\n%s", all)
			switch {
			case tc.want == "" && !rep.OK():
				t.Errorf("verify after repair of an honest crash:\n%s", all)
			case tc.want == "" && (rep.SealReason != SealInterrupted || !rep.SignatureChecked || (tc.witness && rep.Witness != WitnessAgrees)):
				t.Errorf("after repair: seal %q, signature checked %v, witness %q", rep.SealReason, rep.SignatureChecked, rep.Witness)
			case tc.want != "" && rep.OK():
				t.Errorf("verify with the key passes a tampered run")
			case tc.want != "" && !strings.Contains(all, tc.want):
				t.Errorf("verify does not say %q:\n%s", tc.want, all)
			}
			if tc.want == "" && (len(rep.Interruptions) != 1 || len(rep.Interruptions[0].Recovered) != tc.adopted) {
				t.Errorf("interruptions %+v; want one adopting %d segments", rep.Interruptions, tc.adopted)
			}
			if tc.want != "" && rep.Sealed && rep.SealReason == SealInterrupted {
				t.Errorf("a tampered run was sealed as interrupted")
			}
		})
	}
}

package recorder

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeKey writes a fresh ed25519 key as PEM PKCS#8 and returns its public half.
func writeKey(t testing.TB, path string) ed25519.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return pub
}

// recordSmallRun records 6 s of a composite (with AAC) and one point in
// 2 s segments, signed with keyFile when not empty; it returns the run folder.
func recordSmallRun(t *testing.T, root, keyFile string, opts ...Option) string {
	t.Helper()
	comp := makeClip(t, "320x180", 2, "aac")
	point := makeClip(t, "320x180", 2, "")
	rec := startRecorder(t, Config{Root: root, Segment: 2 * time.Second, Part: 500 * time.Millisecond, SigningKey: keyFile, GapTimeout: time.Minute}, opts...)
	feeders := map[string]*feeder{"composite": newFeeder(comp, "composite", 8), "sources/a": newFeeder(point, "a", 8)}
	run, err := rec.StartRun("demo", streamsOf(feeders))
	if err != nil {
		t.Fatal(err)
	}
	recordFor(t, feeders, 6*time.Second)
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	return run.Dir()
}

func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// editManifest rewrites the manifest's lines.
func editManifest(t testing.TB, dir string, edit func(lines []string) []string) {
	t.Helper()
	p := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	lines = edit(lines)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func editFile(t testing.TB, p string, edit func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, edit(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Each tampering is named by verify; an intact run has no problem.
func TestVerifyNamesTampering(t *testing.T) {
	keyDir := t.TempDir()
	pub := writeKey(t, filepath.Join(keyDir, "key.pem"))
	otherPub := writeKey(t, filepath.Join(keyDir, "other.pem"))
	orig := recordSmallRun(t, t.TempDir(), filepath.Join(keyDir, "key.pem"))

	type want struct{ kind, file string }
	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		key    ed25519.PublicKey
		want   []want // problems that must be reported; nil: none at all
	}{
		{name: "intact", tamper: func(*testing.T, string) {}, key: pub},
		{
			name: "byte modified",
			tamper: func(t *testing.T, dir string) {
				editFile(t, filepath.Join(dir, "composite", "000002.mp4"), func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b })
			},
			key: pub, want: []want{{ProblemModified, "composite/000002.mp4"}},
		},
		{
			name:   "segment missing",
			tamper: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "sources", "a", "000001.mp4")) },
			key:    pub, want: []want{{ProblemMissing, "sources/a/000001.mp4"}},
		},
		{
			name: "extra file",
			tamper: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "composite", "000099.mp4"), []byte("not recorded"), 0o644)
			},
			key: pub, want: []want{{ProblemExtra, "composite/000099.mp4"}},
		},
		{
			name: "lines reordered",
			tamper: func(t *testing.T, dir string) {
				editManifest(t, dir, func(l []string) []string { l[2], l[3] = l[3], l[2]; return l })
			},
			key: pub, want: []want{{ProblemReordered, ManifestName}},
		},
		{
			name: "segment truncated",
			tamper: func(t *testing.T, dir string) {
				editFile(t, filepath.Join(dir, "composite", "000003.mp4"), func(b []byte) []byte { return b[:len(b)-100] })
			},
			key: pub, want: []want{{ProblemTruncated, "composite/000003.mp4"}},
		},
		{
			name: "duration edited",
			tamper: func(t *testing.T, dir string) {
				editManifest(t, dir, func(l []string) []string {
					l[1] = strings.Replace(l[1], `"duration_ms":2000`, `"duration_ms":2500`, 1)
					return l
				})
			},
			key: pub, want: []want{{ProblemModified, ManifestName}},
		},
		{
			name: "manifest line removed",
			tamper: func(t *testing.T, dir string) {
				editManifest(t, dir, func(l []string) []string { return append(l[:2], l[3:]...) })
			},
			key: pub, want: []want{{ProblemModified, ManifestName}},
		},
		{
			name: "seal removed",
			tamper: func(t *testing.T, dir string) {
				editManifest(t, dir, func(l []string) []string { return l[:len(l)-1] })
			},
			key: pub, want: []want{{ProblemUnsealed, ManifestName}},
		},
		{
			name: "seal edited",
			tamper: func(t *testing.T, dir string) {
				editManifest(t, dir, func(l []string) []string {
					l[len(l)-1] = strings.Replace(l[len(l)-1], `"reason":"stopped"`, `"reason":"shutdown"`, 1)
					return l
				})
			},
			key: pub, want: []want{{ProblemSignature, ManifestName}},
		},
		{name: "signature from another key", tamper: func(*testing.T, string) {}, key: otherPub, want: []want{{ProblemSignature, ManifestName}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "demo", filepath.Base(orig))
			copyTree(t, orig, dir)
			tc.tamper(t, dir)
			rep, err := Verify(dir, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if !rep.OK() || !rep.Sealed || !rep.SignatureChecked || rep.Segments != 6 {
					t.Errorf("intact run: problems %v, sealed %v, signature checked %v, %d segments", rep.Problems, rep.Sealed, rep.SignatureChecked, rep.Segments)
				}
				return
			}
			for _, w := range tc.want {
				found := false
				for _, p := range rep.Problems {
					found = found || (p.Kind == w.kind && p.File == w.file)
				}
				if !found {
					t.Errorf("want a %q problem on %s; got %v", w.kind, w.file, rep.Problems)
				}
			}
			for _, p := range rep.Problems {
				t.Logf("reported: %s", p)
			}
		})
	}
}

// A torn last line (a crash mid-write) is cut off when the manifest is
// reopened, and the chain goes on from the last whole line.
func TestManifestTornLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), ManifestName)
	m, err := createManifest(p, runJSON{Session: "s", Started: fmtTime(time.Now()), Format: manifestFormat}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.addGap("composite", time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	m.close()
	f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"seq":1,"stream":"comp`)
	f.Close()
	lines, torn, _ := readManifest(p)
	if !torn {
		t.Fatal("torn line not noticed")
	}
	m, err = appendManifest(p, lines[:len(lines)-1], len(lines[len(lines)-1].raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.seal(time.Now(), SealInterrupted, signer{}); err != nil {
		t.Fatal(err)
	}
	m.close()
	lines, torn, err = readManifest(p)
	if err != nil || torn || len(lines) != 3 {
		t.Fatalf("after reopening: %d lines, torn %v, %v", len(lines), torn, err)
	}
	for i := 1; i < len(lines); i++ {
		if *lines[i].line.Prev != lines[i-1].hash {
			t.Errorf("line %d does not chain to line %d", i+1, i)
		}
	}
	if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(`"comp`+"\n")) {
		t.Error("torn bytes left in the manifest")
	}
}

// Stream events are read back by verify; one the recorder would not write
// is malformed even when its chain holds.
func TestVerifyStreamEvents(t *testing.T) {
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	event := func(stream, ev string) func(m *manifestWriter) error {
		return func(m *manifestWriter) error {
			return m.add(func(prev string) any {
				return struct {
					StreamEvent streamEventJSON `json:"stream_event"`
					Prev        string          `json:"prev"`
				}{streamEventJSON{Stream: stream, Event: ev, At: fmtTime(at)}, prev}
			})
		}
	}
	cases := []struct {
		name      string
		write     func(m *manifestWriter) error
		malformed bool
	}{
		{"added", event("sources/cam9", StreamAdded), false},
		{"removed", event("composite", StreamRemoved), false},
		{"unknown event", event("sources/cam9", "paused"), true},
		{"bad stream name", event("cam9", StreamAdded), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "s", "20260301T080000Z")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			m, err := createManifest(filepath.Join(dir, ManifestName), runJSON{Session: "s", Started: fmtTime(at), Streams: []string{"composite"}, Format: manifestFormat}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.write(m); err != nil {
				t.Fatal(err)
			}
			if err := m.seal(at, SealStopped, signer{}); err != nil {
				t.Fatal(err)
			}
			m.close()
			rep, err := Verify(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.malformed {
				if len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemMalformed || rep.Problems[0].Line != 2 || len(rep.StreamEvents) != 0 {
					t.Errorf("problems %v, events %+v; want line 2 malformed", rep.Problems, rep.StreamEvents)
				}
				return
			}
			if !rep.OK() || len(rep.StreamEvents) != 1 || !rep.StreamEvents[0].At.Equal(at) {
				t.Errorf("problems %v, events %+v; want none and the event", rep.Problems, rep.StreamEvents)
			}
		})
	}
}

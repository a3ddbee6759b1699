package recorder

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzManifestRead reads any manifest.jsonl, as verify and crash repair
// read what is on disk (a copy on an external drive, a file cut short by a
// crash, or one edited by hand). Nothing may panic; every byte belongs to
// exactly one line, in order; a file not ending in a newline is torn; a
// line is either a valid manifest line or flagged malformed; and repair's
// reading finds evidence wherever a line is malformed or the hash chain
// breaks, so it cannot seal over an edit. Seeds: manifests the recorder
// wrote (a signed one-segment run; composite and points with a point
// joining and leaving and gaps), one cut mid-line, one with an edited line.
func FuzzManifestRead(f *testing.F) {
	path := filepath.Join(f.TempDir(), ManifestName)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		lines, torn, err := readManifest(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := len(data) > 0 && data[len(data)-1] != '\n'; torn != want {
			t.Fatalf("torn = %v, want %v", torn, want)
		}
		rest := data
		broken := false
		for i := range lines {
			l := &lines[i]
			raw, after, _ := bytes.Cut(rest, []byte("\n"))
			rest = after
			switch {
			case l.num != i+1:
				t.Fatalf("line %d numbered %d", i+1, l.num)
			case !bytes.Equal(l.raw, raw):
				t.Fatalf("line %d holds %q, the file %q", l.num, l.raw, raw)
			case l.hash != lineHash(raw):
				t.Fatalf("line %d: hash is not of its bytes", l.num)
			case (l.err != nil) != (l.kind() == "malformed"):
				t.Fatalf("line %d: kind %s with error %v", l.num, l.kind(), l.err)
			}
			if l.kind() == "segment" {
				_, _ = l.segment()
			}
			want := ""
			if i > 0 {
				want = lines[i-1].hash
			}
			broken = broken || l.err != nil || l.kind() == "unknown" || l.line.Prev == nil || *l.line.Prev != want
		}
		if len(rest) != 0 {
			t.Fatalf("%d bytes after the last line read", len(rest))
		}
		st := readRunState(lines)
		if broken && len(st.evidence.list()) == 0 {
			t.Fatal("a malformed line or a broken chain left no evidence: repair would seal over it")
		}
	})
}

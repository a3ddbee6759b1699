package harness

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeSegment is a segment file's box layout (ftyp, moov, prft, then
// moof+mdat pairs) with meaningless payloads: the soak reads headers only.
func fakeSegment(start time.Time, parts int, torn int) []byte {
	var b bytes.Buffer
	box := func(typ string, payload []byte) { writeBox(&b, typ, payload) }
	box("ftyp", make([]byte, 16))
	box("moov", make([]byte, 100))
	prft := make([]byte, 24)
	prft[0] = 1
	secs := uint64(start.Unix() + 2208988800)
	frac := uint64(start.Nanosecond()) << 32 / uint64(time.Second)
	binary.BigEndian.PutUint64(prft[8:], secs<<32|frac)
	box("prft", prft)
	for range parts {
		box("moof", make([]byte, 40))
		box("mdat", make([]byte, 500))
	}
	if torn > 0 {
		var frag bytes.Buffer
		writeBox(&frag, "moof", make([]byte, 40))
		writeBox(&frag, "mdat", make([]byte, 500))
		b.Write(frag.Bytes()[:torn])
	}
	return b.Bytes()
}

func writeBox(b *bytes.Buffer, typ string, payload []byte) {
	var h [8]byte
	binary.BigEndian.PutUint32(h[:], uint32(8+len(payload)))
	copy(h[4:], typ)
	b.Write(h[:])
	b.Write(payload)
}

func TestScanSegment(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	cases := []struct {
		name      string
		parts     int
		torn      int
		wantParts int
	}{
		{"init only", 0, 0, 0},
		{"three parts", 3, 0, 3},
		{"torn in the moof", 2, 20, 2},
		{"torn in the mdat", 2, 100, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "000001.mp4")
			if err := os.WriteFile(p, fakeSegment(start, c.parts, c.torn), 0o644); err != nil {
				t.Fatal(err)
			}
			sc := scanSegment(p)
			if sc.parts != c.wantParts {
				t.Errorf("parts %d, want %d", sc.parts, c.wantParts)
			}
			if d := sc.start.Sub(start); d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("start %s, want %s", sc.start, start)
			}
		})
	}
	if n := countFragments(filepath.Join(t.TempDir(), "missing.mp4")); n != 0 {
		t.Errorf("a missing file holds %d parts", n)
	}
}

// TestKillLosses: what a kill costs a stream, from the open segment's
// last write, the feed's stops and what repair left.
func TestKillLosses(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	kill := t0.Add(100 * time.Second)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	cases := []struct {
		name      string
		start     float64 // the open segment's prft
		mtime     float64 // its last write; 0: no open segment
		before    int     // whole parts before the kill
		after     int     // after repair
		stops     []float64
		reader    int     // frames the composite's reader got after the write; 0: no reader
		frozen    float64 // the machine's freezes since the write
		wantS     float64
		wantCut   int
		wantParts float64
	}{
		{name: "live stream: the part being gathered", start: 10, mtime: 99.4, before: 89, after: 89, wantS: 0.6, wantParts: 0.6},
		{name: "repair cut a whole part", start: 10, mtime: 99.4, before: 89, after: 88, wantS: 0.6, wantCut: 1, wantParts: 1.6},
		{name: "writer fell behind", start: 10, mtime: 97.5, before: 87, after: 87, wantS: 2.5, wantParts: 2.5},
		{name: "the machine ran nothing for 1.2 s of it", start: 10, mtime: 97.5, before: 87, after: 87, frozen: 1.2, wantS: 1.3, wantParts: 1.3},
		{name: "camera dropped 1 s ago, segment not yet closed", start: 10, mtime: 98.7, before: 88, after: 88, stops: []float64{99}, wantS: 0.3, wantParts: 0.3},
		{name: "camera dropped, closing flush written, line not yet", start: 10, mtime: 99.1, before: 88, after: 88, stops: []float64{97}, wantS: 0, wantParts: 0},
		{name: "camera back: a new segment after the drop", start: 95, mtime: 99.8, before: 4, after: 4, stops: []float64{88}, wantS: 0.2, wantParts: 0.2},
		{name: "no open segment", wantS: 0, wantParts: 0},
		{name: "composite late out of the encoder: frames counted at the reader", start: 10, mtime: 98.8, before: 88, after: 88, reader: 14, wantS: 14.0 / 15, wantParts: 14.0 / 15},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ss := &streamSnap{Parts: map[string]int{}}
			if c.mtime > 0 {
				f := "sources/cam1/000001.mp4"
				p := filepath.Join(dir, filepath.FromSlash(f))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, fakeSegment(at(c.start), c.after, 0), 0o644); err != nil {
					t.Fatal(err)
				}
				ss.Open, ss.Start, ss.MTime, ss.Parts[f] = f, at(c.start), at(c.mtime), c.before
			}
			if c.reader > 0 {
				ss.ReaderFrames = &c.reader
			}
			stops := stopTimes{}
			for _, s := range c.stops {
				stops.add("sources/cam1", at(s))
			}
			stops.add("sources/cam2", at(99.9)) // another stream's stop changes nothing
			snap := &killSnapshot{dir: dir, Streams: map[string]*streamSnap{"sources/cam1": ss}}
			got := snap.losses(kill, stops, time.Second, 15, func(from, to time.Time) time.Duration { return time.Duration(c.frozen * float64(time.Second)) })
			if len(got) != 1 {
				t.Fatalf("%d streams", len(got))
			}
			l := got[0]
			if diff := l.InflightS - c.wantS; diff < -1e-6 || diff > 1e-6 {
				t.Errorf("inflight %.3f s, want %.3f", l.InflightS, c.wantS)
			}
			if l.Cut != c.wantCut {
				t.Errorf("cut %d, want %d", l.Cut, c.wantCut)
			}
			if diff := l.Parts - c.wantParts; diff < -1e-6 || diff > 1e-6 {
				t.Errorf("lost %.3f parts, want %.3f", l.Parts, c.wantParts)
			}
		})
	}
}

func TestSnapshotRunSkipsListedSegments(t *testing.T) {
	run := filepath.Join(t.TempDir(), "soak", "20260102T030000Z")
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	files := map[string][]byte{
		"composite/000001.mp4":    fakeSegment(start, 5, 0),
		"composite/000002.mp4":    fakeSegment(start.Add(5*time.Second), 2, 30),
		"sources/cam1/000001.mp4": fakeSegment(start, 3, 0),
	}
	for f, b := range files {
		p := filepath.Join(run, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := `{"run":{"session":"soak"},"prev":""}
{"seq":1,"stream":"composite","file":"composite/000001.mp4","prev":"x"}
{"seq":2,"stream":"sources/cam1","file":"sources/cam1/000001.mp4","prev":"y"}
`
	if err := os.WriteFile(filepath.Join(run, "manifest.jsonl"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := snapshotRun(filepath.Dir(filepath.Dir(run)), run)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Run != "soak/20260102T030000Z" {
		t.Errorf("run %q", snap.Run)
	}
	c := snap.Streams["composite"]
	if c == nil || c.Open != "composite/000002.mp4" || c.Parts["composite/000002.mp4"] != 2 || len(c.Parts) != 1 || c.MTime.IsZero() {
		t.Errorf("composite: %+v", c)
	}
	if !c.Start.Equal(start.Add(5 * time.Second)) {
		t.Errorf("composite's open segment starts %s", c.Start)
	}
	if s := snap.Streams["sources/cam1"]; s == nil || s.Open != "" || len(s.Parts) != 0 {
		t.Errorf("sources/cam1, closed: %+v", s)
	}
}

func TestFramesBetween(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	w := &compositeWatch{}
	if _, ok := w.framesBetween(t0, t0.Add(time.Second)); ok {
		t.Error("no reader yet, but a count")
	}
	for i := range 100 { // 15 fps from t0+1 s
		w.frame(t0.Add(time.Second + time.Duration(i)*time.Second/15))
	}
	if _, ok := w.framesBetween(t0, t0.Add(3*time.Second)); ok {
		t.Error("the reader began after the write, but a count")
	}
	if n, ok := w.framesBetween(t0.Add(2*time.Second), t0.Add(3*time.Second)); !ok || n != 15 {
		t.Errorf("one second: %d frames (%v), want 15", n, ok)
	}
	for i := range 2 * arrivalRing {
		w.frame(t0.Add(10*time.Second + time.Duration(i)*time.Second/15))
	}
	if _, ok := w.framesBetween(t0.Add(2*time.Second), t0.Add(3*time.Second)); ok {
		t.Error("older than the ring, but a count")
	}
}

// TestStallsLessMachineFreezes: a composite gap counts against the limit
// only for the part in which the bench itself was run.
func TestStallsLessMachineFreezes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var hb heartbeat
	hb.freezes = []freezeWindow{{at(10_000), at(12_500)}, {at(30_000), at(30_100)}}
	w := &compositeWatch{epoch: t0, limitMs: 1000}
	for _, ms := range []int{9_900, 9_966, 12_600} {
		w.frame(at(ms))
	}
	for ms := 12_666; ms < 29_500; ms += 66 {
		w.frame(at(ms))
	}
	for _, ms := range []int{29_500, 31_000, 31_066} {
		w.frame(at(ms))
	}
	f := w.figures(&hb)
	if f.MaxGapMs != 2634 {
		t.Errorf("longest gap %.0f ms as read, want 2634", f.MaxGapMs)
	}
	if len(f.Stalls) != 2 || f.Stalls[0].AtS != 29.5 || f.Stalls[0].ServerMs != 1400 || f.Stalls[1].ServerMs != 134 {
		t.Errorf("stalls %+v", f.Stalls)
	}
	if f.MaxServerMs != 1400 || f.OverLimit != 1 || f.GapsOver != 2 {
		t.Errorf("server's longest %.0f ms, %d over, %d over as read", f.MaxServerMs, f.OverLimit, f.GapsOver)
	}
	if n, longest, _ := hb.summary(); n != 2 || longest != 2500*time.Millisecond {
		t.Errorf("freezes %d, longest %s", n, longest)
	}
	w.end(at(33_000)) // still no picture when the soak ends
	if f := w.figures(&hb); f.MaxServerMs != 1934 {
		t.Errorf("open stall at the end: %.0f ms, want 1934", f.MaxServerMs)
	}
}

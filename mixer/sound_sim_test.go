package mixer

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// TestSilentPoint mixes two of the server's sim:// sources, one with its
// tone and one without sound: the quiet one is flagged silent once the
// (shortened) threshold has passed and not before, with one warning; the
// other reads its tone's level (amplitude 0.3: peak -10.5, RMS -13.5 dBFS)
// and stays heard. Muting the quiet one ends its alert; muting the other
// leaves its meter reading (the meter is before the mute).
func TestSilentPoint(t *testing.T) {
	needTools(t, "x264enc", "compositor", "audiomixer", "opusenc", "opusdec", "level")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const silentAfter = 2 * time.Second
	wantPeak := 20 * math.Log10(0.3)
	wantRMS := wantPeak - 10*math.Log10(2)

	srcs := startSims(t, simPoint{"tinh", true}, simPoint{"xa-a", false})
	logs := newCountingHandler(testkit.Logger(t).Handler())
	m, err := New(Config{Session: "sound", Output: Output{Width: testW, Height: testH, FPS: testFPS, BitrateKbps: 300},
		SilentAfter: silentAfter, Points: []Point{
			{ID: "tinh", Stream: srcs[0].Stream()},
			{ID: "xa-a", Stream: srcs[1].Stream()},
		}}, slog.New(logs), nil)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "mixer", m.Run)

	testkit.WaitFor(t, ctx, "both points live", func() bool {
		p := m.Stats().Points
		return p[0].Live && p[1].Live
	})
	liveAt := time.Now()
	testkit.WaitFor(t, ctx, "the point without sound flagged silent", func() bool {
		p := m.Stats().Points
		if p[0].Audio.Silent {
			t.Fatalf("the point with a tone is flagged silent: %+v", p[0].Audio)
		}
		return p[1].Audio.Silent
	})
	// The count starts when the picture is live, which the stats show a
	// tick or two after it is.
	if took := time.Since(liveAt); took < silentAfter-300*time.Millisecond {
		t.Errorf("silent %v after the picture went live, before the %v threshold", took, silentAfter)
	}
	p := m.Stats().Points
	t.Logf("tinh: %+v", p[0].Audio)
	t.Logf("xa-a: %+v", p[1].Audio)
	// The tone's level is the median of 10 readings: a reading
	// taken as the point's sound starts can hold a full-scale click (peak
	// 0 dBFS, RMS -7.4 dBFS seen), which the meter rightly shows but which
	// is not the tone's level.
	if peak, rms, n := medianLevel(m, 0); n < 10 || math.Abs(peak-wantPeak) > 3 || math.Abs(rms-wantRMS) > 3 {
		t.Errorf("tinh: %d readings, median peak %.1f and RMS %.1f dBFS, want peak %.1f and RMS %.1f ± 3", n, peak, rms, wantPeak, wantRMS)
	}
	if a := p[1].Audio; a.Measured || a.QuietSince.IsZero() {
		t.Errorf("xa-a sends no sound: %+v", a)
	}
	if n := logs.count("point silent: its picture is live but no sound comes"); n != 1 {
		t.Errorf("%d silent warnings, want 1", n)
	}

	muted := true
	if err := m.SetPoint("xa-a", PointUpdate{Muted: &muted}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetPoint("tinh", PointUpdate{Muted: &muted}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, ctx, "the muted point's alert ended", func() bool { return !m.Stats().Points[1].Audio.Silent })
	time.Sleep(silentAfter + 500*time.Millisecond)
	p = m.Stats().Points
	if p[1].Audio.Silent || p[0].Audio.Silent {
		t.Errorf("muted points flagged silent: %+v, %+v", p[0].Audio, p[1].Audio)
	}
	if _, rms, n := medianLevel(m, 0); n < 10 || math.Abs(rms-wantRMS) > 3 {
		t.Errorf("tinh muted by the operator: its meter reads RMS %.1f dBFS (%d readings), want its tone's %.1f (the meter is before the mute)", rms, n, wantRMS)
	}
	if n := logs.count("point no longer silent"); n != 1 {
		t.Errorf("%d 'no longer silent' lines, want 1", n)
	}
}

// countingHandler counts log messages, across its derived handlers, and
// passes them on.
type countingHandler struct {
	next   slog.Handler
	counts *messageCounts
}

type messageCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func newCountingHandler(next slog.Handler) *countingHandler {
	return &countingHandler{next: next, counts: &messageCounts{n: map[string]int{}}}
}

func (h *countingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	h.counts.mu.Lock()
	h.counts.n[r.Message]++
	h.counts.mu.Unlock()
	return h.next.Handle(ctx, r)
}

func (h *countingHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &countingHandler{next: h.next.WithAttrs(a), counts: h.counts}
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	return &countingHandler{next: h.next.WithGroup(name), counts: h.counts}
}

func (h *countingHandler) count(msg string) int {
	h.counts.mu.Lock()
	defer h.counts.mu.Unlock()
	return h.counts.n[msg]
}

// medianLevel is point i's median peak and RMS over its next 10 readings
// taken at least 100 ms apart, and how many there were. A loaded machine
// can hold the point's sound back for a second or more (the reading then
// goes stale, Measured false), so it waits up to levelWait for them rather
// than judging a fixed window: this test is about the level read, not how
// steadily it comes.
func medianLevel(m *Mixer, i int) (peak, rms float64, n int) {
	const want, levelWait = 10, 15 * time.Second
	var peaks, rmss []float64
	for deadline := time.Now().Add(levelWait); len(peaks) < want && time.Now().Before(deadline); {
		if a := m.Stats().Points[i].Audio; a.Measured {
			peaks, rmss = append(peaks, a.PeakDBFS), append(rmss, a.RMSDBFS)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return median(peaks), median(rmss), len(peaks)
}

// median of xs (0 for none); xs is sorted in place.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// TestArchiveSoundTrackFromTheStart: the archive's AAC track published
// before the mix runs is the one its sound comes in, so a recorder that
// opens a segment at the first picture, before the first sound (a loaded
// machine), has the sound's track in it. The guessed config (11 90) was
// replaced at the first frame by the encoder's (avenc_aac: 11 90 56 e5 00),
// and that segment was archived silent.
func TestArchiveSoundTrackFromTheStart(t *testing.T) {
	needTools(t, "x264enc", "compositor", "audiomixer", "opusenc", "opusdec", "avenc_aac")
	srcs := startSims(t, simPoint{"tinh", true})
	logs := newCountingHandler(testkit.Logger(t).Handler())
	m, err := New(Config{Session: "aac", Output: Output{Width: testW, Height: testH, FPS: testFPS, BitrateKbps: 300},
		Points: []Point{{ID: "tinh", Stream: srcs[0].Stream()}}}, slog.New(logs), nil)
	if err != nil {
		t.Fatal(err)
	}
	published := m.Archive().Tracks()
	if len(published) != 2 || published[1].Codec != pipeline.AAC {
		t.Fatalf("archive tracks before the mix runs: %v", published)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	got := collect(cctx, &wg, m.Archive())
	testkit.Start(t, "mixer", m.Run)
	testkit.WaitFor(t, ctx, "a second of archive sound", func() bool { return len(got.snapshot(pipeline.Audio)) >= 47 })
	stop()
	wg.Wait()
	for i, f := range got.snapshot(pipeline.Audio) {
		if f.Track != published[1] {
			t.Fatalf("sound frame %d: track %x, want the one published before the mix ran (%x)", i, f.Track.Config, published[1].Config)
		}
	}
	if tr := m.Archive().Tracks(); tr[1] != published[1] {
		t.Errorf("archive sound track replaced: %x, was %x", tr[1].Config, published[1].Config)
	}
	// Its sound starts on the clock (gst's start-time-selection=first).
	if n := logs.count(soundJumpMessage); n > 0 || m.out.soundClock.jumps.Load() > 0 {
		t.Errorf("the mix's sound ran ahead of its clock (%d warnings)", n)
	}
}

package gst

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"diemcau/pipeline"
)

// TestMixLevels feeds a known sine (amplitude 0.3: peak -10.5 dBFS, RMS
// -13.5 dBFS) into a point that was in the composite from the start and
// into one added while it runs, and pictures without sound into a third:
// the first two read the tone's level through the bus, also while muted
// (the meter is before the operator's mute), and the third has no reading.
func TestMixLevels(t *testing.T) {
	needElements(t, "compositor", "audiomixer", "opusenc", "opusdec", "level", "avdec_h264")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const amplitude = 0.3 // the test loop's sine (audioSource)
	wantPeak := 20 * math.Log10(amplitude)
	wantRMS := wantPeak - 10*math.Log10(2)
	withSound := testLoop(t, ctx, true)
	pictureOnly := testLoop(t, ctx, false)
	mix := startMix(t, MixSpec{Width: 320, Height: 180, FPS: 30, Points: 2, Slots: 3}, MixSinks{})
	if err := mix.AddPoint(2); err != nil {
		t.Fatal(err)
	}
	for point, l := range map[int]*Loop{0: withSound, 1: pictureOnly, 2: withSound} {
		for _, tr := range loopTracks(l) {
			if err := mix.SetInput(point, tr.Kind(), InputFormatOf(tr)); err != nil {
				t.Fatal(err)
			}
		}
	}
	fctx, stopFeed := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for point, l := range map[int]*Loop{0: withSound, 1: pictureOnly, 2: withSound} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			feedLoop(fctx, mix, point, l)
		}()
	}
	defer func() {
		stopFeed()
		wg.Wait()
	}()

	// read polls the bus as the owner does for d and returns each point's
	// readings.
	read := func(d time.Duration) [3][]Level {
		var got [3][]Level
		last := [3]time.Time{}
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			for _, ev := range mix.Poll() {
				if !ev.Warning {
					t.Errorf("bus: %+v", ev)
				}
			}
			for p := range 3 {
				if l, ok := mix.Level(p); ok && l.At != last[p] {
					got[p], last[p] = append(got[p], l), l.At
				}
			}
		}
		return got
	}
	check := func(name string, got [3][]Level) {
		t.Helper()
		for _, p := range []int{0, 2} {
			// 2 s of 100 ms readings, of which the first may be partial.
			if len(got[p]) < 12 {
				t.Errorf("%s: point %d: %d level readings in 2 s, want about 20", name, p, len(got[p]))
				continue
			}
			// The median: the test loop clicks where it wraps around (its
			// Opus stream restarts), which the meter rightly shows.
			l := medianLevel(got[p])
			t.Logf("%s: point %d: %d readings, peak %.1f dBFS, RMS %.1f dBFS", name, p, len(got[p]), l.PeakDBFS, l.RMSDBFS)
			if math.Abs(l.PeakDBFS-wantPeak) > 3 || math.Abs(l.RMSDBFS-wantRMS) > 3 {
				t.Errorf("%s: point %d: peak %.1f RMS %.1f dBFS, want %.1f and %.1f ± 3", name, p, l.PeakDBFS, l.RMSDBFS, wantPeak, wantRMS)
			}
		}
		if len(got[1]) != 0 {
			t.Errorf("%s: point 1 sends no sound but has %d readings (%+v)", name, len(got[1]), got[1][0])
		}
	}
	read(time.Second) // the decoders start
	check("playing", read(2*time.Second))
	mix.SetVolume(0, 1, true)
	mix.SetVolume(2, 0, false)
	check("muted", read(2*time.Second))

	mix.RemovePoint(2)
	if _, ok := mix.Level(2); ok {
		t.Error("a removed point still has a level")
	}
}

func medianLevel(ls []Level) Level {
	peaks, rmss := make([]float64, len(ls)), make([]float64, len(ls))
	for i, l := range ls {
		peaks[i], rmss[i] = l.PeakDBFS, l.RMSDBFS
	}
	slices.Sort(peaks)
	slices.Sort(rmss)
	return Level{PeakDBFS: peaks[len(ls)/2], RMSDBFS: rmss[len(ls)/2]}
}

func loopTracks(l *Loop) []*pipeline.Track {
	tracks := []*pipeline.Track{l.Video}
	if l.Audio != nil {
		tracks = append(tracks, l.Audio)
	}
	return tracks
}

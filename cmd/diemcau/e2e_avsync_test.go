package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"diemcau/ingest/avsync"
	"diemcau/ingest/camsim"
	"diemcau/internal/proctest"
	"diemcau/internal/testkit"
	"diemcau/mixer"
)

// Warm-ups of the live reads (see avsync.Options.Warmup): an RTSP reader
// is lined up by the server's first sender report, within a second of the
// read; a WHEP viewer's picture starts at the composite's last keyframe
// (2 s).
const (
	rtspWarmup = 3 * time.Second
	whepWarmup = 3 * time.Second
	avSeconds  = 5 // flashes per point measured on a live output
)

// TestAVSyncEveryOutput runs a live session of camsim cameras sending the
// avsync pattern (each its own tone, flashing in turn) and measures picture
// and sound together on every output with the lip-sync meter: the RTSP
// composite, the WHEP composite, a point's return feed (its mix-minus
// carries the other points' beeps, not its own), every archived composite
// segment and an archived source segment. Each must carry its sound at
// ≥ 98 % of the expected rate and every point's offset within EBU R37's
// hard limit (sound 40 ms early to 60 ms late). Then a point joins mid-run
// and the cameras drop and return: sync is measured again after each.
func TestAVSyncEveryOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts processes")
	}
	dir := t.TempDir()
	camPort, rtspPort, httpPort := proctest.FreePortPair(t), proctest.FreePortPair(t), proctest.FreePort(t)
	// Eight cameras, of which the session uses every other one: tones
	// 200 Hz apart (1000, 1200, 1400, 1600), flashing a quarter of a
	// second apart (camsim.PatternPhase).
	camArgs := []string{"camsim", "--listen", fmt.Sprintf("127.0.0.1:%d", camPort), "--cameras", "8",
		"--size", "320x180", "--fps", "30", "--bitrate", "300", "--pattern", "avsync"}
	cam := proctest.Start(t, binary, camArgs...)
	const token = "avsync-e2e-token"
	cfg := fmt.Sprintf(`
http: {listen: "127.0.0.1:%d"}
rtsp: {listen: "127.0.0.1:%d", read_user: xem, read_pass: "d0c-k1n"}
webrtc: {udp_port: 0}
archive: {root: %q, segment: 4s, part: 500ms, min_free: 0}
store: %q
auth:
  tokens:
    - {name: tech, role: admin, sha256: %q}
sources:
  - {id: cam1, url: "rtsp://127.0.0.1:%[6]d/cam1", transport: tcp}
  - {id: cam3, url: "rtsp://127.0.0.1:%[6]d/cam3", transport: tcp}
  - {id: cam5, url: "rtsp://127.0.0.1:%[6]d/cam5", transport: tcp}
  - {id: cam7, url: "rtsp://127.0.0.1:%[6]d/cam7", transport: tcp}
sessions:
  - id: phien
    start: manual
    output: {width: 320, height: 180, fps: 30, bitrate: 400}
    points:
      - {id: xa-a, source: cam1}
      - {id: xa-b, source: cam3}
      - {id: xa-c, source: cam5}
`, httpPort, rtspPort, filepath.Join(dir, "archive"), filepath.Join(dir, "d.db"), sha256Hex(token), camPort)
	cfgFile := writeConfigIn(t, dir, cfg)
	proctest.Start(t, binary, "serve", "--config", cfgFile).WaitLine(t, "msg=serving", 90*time.Second)
	outer := t
	a := api{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), token: token}
	rtspComposite := fmt.Sprintf("rtsp://xem:d0c-k1n@127.0.0.1:%d/sessions/phien", rtspPort)
	whepComposite := a.base + "/whep/sessions/phien"
	// Points xa-a … xa-d are cameras 1, 3, 5, 7 (pointTone).

	camerasOnline := func(t *testing.T, ids ...string) {
		t.Helper()
		for _, id := range ids {
			testkit.Eventually(t, 90*time.Second, id+" online", func() bool {
				s := a.source(id)
				f, _ := s["frames"].(float64)
				return s["state"] == "online" && f > 0
			})
		}
	}
	camerasOnline(t, "cam1", "cam3", "cam5", "cam7")
	watch := watchRealtime(t, a, "phien", 30)
	if status, body := a.call("POST", "/api/v1/sessions/phien/start", `{"mode":"live"}`); status != 200 || body["state"] != "live" {
		t.Fatalf("start: %d %v", status, body)
	}
	pointsOnline := func(t *testing.T, ids ...string) {
		t.Helper()
		testkit.Eventually(t, 60*time.Second, "points "+strings.Join(ids, ", ")+" online in the composite", func() bool {
			_, s := a.call("GET", "/api/v1/sessions/phien", "")
			states := map[string]any{}
			for _, p := range asList(s["points"]) {
				pm, _ := p.(map[string]any)
				states[fmt.Sprint(pm["id"])] = pm["state"]
			}
			rec, _ := s["recording"].(map[string]any)
			for _, id := range ids {
				if states[id] != "online" {
					return false
				}
			}
			return rec != nil && rec["active"] == true
		})
	}
	pointsOnline(t, "xa-a", "xa-b", "xa-c")

	t.Run("live outputs", func(t *testing.T) {
		reps := measureRealtime(t, watch, []avTarget{
			{name: "RTSP composite", url: rtspComposite, warmup: rtspWarmup},
			{name: "WHEP composite", url: whepComposite, token: token, warmup: whepWarmup},
			{name: "return feed of xa-a", url: whepComposite + "/points/xa-a", token: token, warmup: whepWarmup},
		})
		three := avExpect{want: []int{0, 1, 2}, grids: []int{3}}
		checkAV(t, reps[0], three)
		checkAV(t, reps[1], three)
		// Studio xa-a hears the others, never itself.
		checkAV(t, reps[2], avExpect{want: []int{1, 2}, absent: []int{0}, grids: []int{3}})
	})

	// relayout is when the grid went from three tiles to four: a segment
	// that holds both layouts has a point's flashes in two places, which
	// the meter cannot pair by tile.
	var relayout timeSpan
	t.Run("a point added mid-run keeps sync", func(t *testing.T) {
		relayout.from = time.Now()
		defer func() {
			if relayout.to.IsZero() { // failed before the new tile showed
				relayout.to = time.Now()
			}
		}()
		patch := `{"points":[{"id":"xa-a","source":"cam1"},{"id":"xa-b","source":"cam3"},{"id":"xa-c","source":"cam5"},{"id":"xa-d","source":"cam7"}]}`
		if status, body := a.call("PATCH", "/api/v1/sessions/phien", patch); status != 200 || body["state"] != "live" {
			t.Fatalf("adding a point to the live session: %d %v", status, body)
		}
		pointsOnline(t, "xa-d")
		// Let the four-tile grid settle before reading: a read that starts
		// as the new tile turns from its slate to its picture has the meter
		// map tiles on a picture that is still changing, and it once paired
		// a point with its neighbour's flash (−230 ms) on a quiet machine.
		time.Sleep(3 * time.Second)
		relayout.to = time.Now()
		reps := measureRealtime(t, watch, []avTarget{
			{name: "WHEP composite", url: whepComposite, token: token, warmup: whepWarmup},
			{name: "return feed of the new point", url: whepComposite + "/points/xa-d", token: token, warmup: whepWarmup},
		})
		checkAV(t, reps[0], avExpect{want: []int{0, 1, 2, 3}, grids: []int{4}})
		checkAV(t, reps[1], avExpect{want: []int{0, 1, 2}, absent: []int{3}, grids: []int{4}})
	})

	var dark timeSpan // the cameras were away: no pattern to find
	t.Run("cameras that drop and return keep sync", func(t *testing.T) {
		dark.from = time.Now()
		if !cam.Stop(10 * time.Second) {
			t.Fatal("camsim did not stop within 10 s of SIGTERM")
		}
		testkit.Eventually(t, 30*time.Second, "cam3 offline", func() bool { return a.source("cam3")["state"] != "online" })
		cam = proctest.Start(outer, binary, camArgs...) // the test's, not this step's: it runs on
		camerasOnline(t, "cam1", "cam3", "cam5", "cam7")
		pointsOnline(t, "xa-a", "xa-b", "xa-c", "xa-d")
		// As after a point is added: the tiles turn from their slates back
		// to pictures; a read that starts then paired a returning camera's
		// beep with its neighbour's flash (1000 Hz, −467 … +500 ms, CI dry
		// run). Let the grid settle first.
		time.Sleep(3 * time.Second)
		dark.to = time.Now()
		reps := measureRealtime(t, watch, []avTarget{
			{name: "RTSP composite", url: rtspComposite, warmup: rtspWarmup},
			{name: "WHEP composite", url: whepComposite, token: token, warmup: whepWarmup},
		})
		four := avExpect{want: []int{0, 1, 2, 3}, grids: []int{4}}
		checkAV(t, reps[0], four)
		checkAV(t, reps[1], four)
	})

	if status, body := a.call("POST", "/api/v1/sessions/phien/stop", ""); status != 200 || body["state"] != "ended" {
		t.Fatalf("stop: %d %v", status, body)
	}
	runs, _ := filepath.Glob(filepath.Join(dir, "archive", "phien", "*"))
	if len(runs) != 1 {
		t.Fatalf("runs archived: %v", runs)
	}

	t.Run("archived composite segments", func(t *testing.T) {
		segs, _ := filepath.Glob(filepath.Join(runs[0], "composite", "*.mp4"))
		if len(segs) < 5 {
			t.Fatalf("composite segments: %v", segs)
		}
		spans := segmentSpans(t, runs[0])
		judged := 0
		for _, seg := range segs {
			name := filepath.Base(seg)
			span, ok := spans["composite/"+name]
			if !ok {
				t.Errorf("%s: not in the manifest", name)
				continue
			}
			if why := watch.busyIn(span.from, span.to); why != "" {
				t.Logf("%s: not judged, the composite was not made in real time then (%s)", name, why)
				continue
			}
			if relayout.overlaps(span.from, span.to) {
				t.Logf("%s: not judged, it holds the change from three tiles to four", name)
				continue
			}
			rep := measureFile(t, seg)
			if rep.Seconds < 3 {
				// The run's last, cut short by the stop: too few flashes
				// per point to pair.
				t.Logf("%s: %.1f s, not judged", name, rep.Seconds)
				continue
			}
			// Which points beep in a segment depends on when it was cut
			// (the added point, the cameras' drop): every point found
			// must be in sync, and one at least must be there.
			checkAV(t, rep, avExpect{grids: []int{3, 4}})
			if len(rep.Points) == 0 && !dark.overlaps(span.from, span.to) {
				t.Errorf("%s: no point's flash and beep found\n%s", name, reportText(rep))
			}
			judged++
		}
		if judged == 0 {
			t.Skip("no segment was made in real time: the machine is too busy to judge lip sync")
		}
	})

	t.Run("an archived source segment", func(t *testing.T) {
		segs, _ := filepath.Glob(filepath.Join(runs[0], "sources", "cam1", "*.mp4"))
		if len(segs) < 3 {
			t.Fatalf("cam1 segments: %v", segs)
		}
		checkAV(t, measureFile(t, segs[1]), avExpect{want: []int{0}})
	})
}

// avTarget is one live output to measure.
type avTarget struct {
	name, url, token string
	warmup           time.Duration
}

// measureAll measures the targets at once (the session goes on meanwhile)
// and returns their reports in order; a target that cannot be read fails
// the test.
func measureAll(t *testing.T, targets []avTarget) []avsync.Report {
	t.Helper()
	reps := make([]avsync.Report, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			reps[i], errs[i] = avsync.Measure(ctx, tg.url, avsync.Options{Seconds: avSeconds, Token: tg.token, Warmup: tg.warmup})
			reps[i].Input = tg.name
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", targets[i].name, err)
		}
		t.Logf("%s", reportText(reps[i]))
	}
	return reps
}

func measureFile(t *testing.T, file string) avsync.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := avsync.Measure(ctx, file, avsync.Options{})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	rep.Input = filepath.Base(filepath.Dir(file)) + "/" + filepath.Base(file)
	t.Logf("%s", reportText(rep))
	return rep
}

// avExpect is what an output must carry. Point i (0-based) of the session
// is camera 2i+1, with its tone (pointTone), drawn in tile i of a grid.
type avExpect struct {
	want   []int // points whose beeps must be paired with their flashes
	absent []int // points whose own sound must not be heard (mix-minus)
	// grids are the point counts the composite's grid may have had while
	// the output was made; nil for a single camera's picture.
	grids []int
}

func pointTone(i int) float64 { return camsim.PatternToneHz(2*i + 1) }

// checkAV fails an output whose sound is under 98 % of the expected, or a
// point whose beeps are paired outside EBU R37 or with another point's
// tile. A point is judged by its best pairing, the one with the most pairs
// (then the smallest offset): the meter may also pair its beeps with a
// neighbouring tile (the tiles flash a quarter of a second apart), and
// name a beep's echo in a lossy codec as a tone of its own (those are
// logged, not judged). A pairing with another point's tile means the
// offset is larger than the tiles' spacing: it fails.
func checkAV(t *testing.T, rep avsync.Report, e avExpect) {
	t.Helper()
	switch a := rep.Audio; {
	case a == nil:
		t.Errorf("%s: no audio track", rep.Input)
	case a.Present < avsync.MinAudioPercent:
		t.Errorf("%s: sound present %.1f %% of the time, want ≥ %.0f %%", rep.Input, a.Present, avsync.MinAudioPercent)
	}
	if rep.Video == nil || rep.Video.Frames == 0 {
		t.Errorf("%s: no picture", rep.Input)
	}
	byTone := bestPairings(rep.Points, func(p avsync.PointOffset) float64 { return p.ToneHz })
	for i := range 4 {
		hz := pointTone(i)
		p, found := byTone[hz]
		switch {
		case slices.Contains(e.absent, i):
			if found {
				t.Errorf("%s: carries the %.0f Hz point's own sound", rep.Input, hz)
			}
			continue
		case !found || p.Pairs < 2:
			if slices.Contains(e.want, i) {
				t.Errorf("%s: the %.0f Hz point's beeps are not paired with its flashes", rep.Input, hz)
			}
			continue
		}
		if !avsync.InLimits(p.Median) {
			t.Errorf("%s: %.0f Hz at %+.1f ms (%d pairs), outside %+.0f … %+.0f ms", rep.Input, hz, p.Median, p.Pairs,
				avsync.EarlyLimitMS, avsync.LateLimitMS)
		}
		if e.grids != nil && !inOwnTile(p.Region, i, e.grids) {
			t.Errorf("%s: %.0f Hz paired with the flash at x %.2f y %.2f, another point's tile (%+.1f ms, %d pairs): "+
				"its sound is further from its picture than the tiles' quarter second", rep.Input, hz, p.Region.X, p.Region.Y, p.Median, p.Pairs)
		}
	}
}

// inOwnTile says whether region's middle lies in point i's tile of a
// 320x180 grid of one of the point counts.
func inOwnTile(region avsync.Rect, i int, grids []int) bool {
	const w, h = 320, 180
	x, y := int((region.X+region.W/2)*w), int((region.Y+region.H/2)*h)
	for _, n := range grids {
		if tiles := mixer.Arrange(mixer.Grid, n, 0, w, h); i < len(tiles) && tiles[i].Contains(x, y) {
			return true
		}
	}
	return false
}

// bestPairings keeps, of the pairings with the same key, the one with the
// most pairs, then the smallest offset.
func bestPairings[K comparable](points []avsync.PointOffset, key func(avsync.PointOffset) K) map[K]avsync.PointOffset {
	best := map[K]avsync.PointOffset{}
	for _, p := range points {
		k := key(p)
		b, ok := best[k]
		if !ok || p.Pairs > b.Pairs || (p.Pairs == b.Pairs && math.Abs(p.Median) < math.Abs(b.Median)) {
			best[k] = p
		}
	}
	return best
}

// reportText is the report in one paragraph, for the test log.
func reportText(rep avsync.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s, %.1f s", rep.Input, rep.Verdict, rep.Seconds)
	if a := rep.Audio; a != nil {
		fmt.Fprintf(&b, ", sound %.1f %% (%d beeps)", a.Present, a.Beeps)
	}
	if v := rep.Video; v != nil {
		fmt.Fprintf(&b, ", %d frames (%d flashes)", v.Frames, v.Flashes)
	}
	for _, p := range rep.Points {
		fmt.Fprintf(&b, "; %.0f Hz %+.1f ms (%+.1f … %+.1f, %d pairs)", p.ToneHz, p.Median, p.Min, p.Max, p.Pairs)
	}
	if len(rep.Reasons) > 0 {
		fmt.Fprintf(&b, "; %s", strings.Join(rep.Reasons, "; "))
	}
	return b.String()
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

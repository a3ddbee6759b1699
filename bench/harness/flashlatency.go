package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"diemcau/ingest/avsync"
	"diemcau/ingest/camsim"
	"diemcau/mixer"
)

// A flash is a picture whose tile (its middle) turns white from the
// pattern's dark background: mean luma at least flashWhite after under
// flashDark.
const (
	flashWhite = 150
	flashDark  = 100
)

// rectF is a part of the picture in fractions of its width and height.
type rectF struct{ x0, y0, x1, y1 float64 }

// tileMiddles are the middles of the grid layout's tiles of n points on a
// w×h composite (the labels and the tile borders left out), in point order.
func tileMiddles(n, w, h int) []rectF {
	var out []rectF
	for _, t := range mixer.Arrange(mixer.Grid, n, 0, w, h) {
		x0, y0 := float64(t.X)/float64(w), float64(t.Y)/float64(h)
		tw, th := float64(t.W)/float64(w), float64(t.H)/float64(h)
		out = append(out, rectF{x0 + 0.25*tw, y0 + 0.2*th, x0 + 0.75*tw, y0 + 0.7*th})
	}
	return out
}

func (r rectF) contains(x, y float64) bool { return x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1 }

// gridTiles are the grid layout's tiles of n points on w×h, in fractions.
func gridTiles(n, w, h int) []rectF {
	var out []rectF
	for _, t := range mixer.Arrange(mixer.Grid, n, 0, w, h) {
		out = append(out, rectF{float64(t.X) / float64(w), float64(t.Y) / float64(h),
			float64(t.X+t.W) / float64(w), float64(t.Y+t.H) / float64(h)})
	}
	return out
}

// meanLuma is the mean of the grid cells whose centres lie in r.
func meanLuma(luma []uint8, r rectF) (float64, bool) {
	var sum, n int
	for i, v := range luma {
		cx := (float64(i%avsync.GridW) + 0.5) / avsync.GridW
		cy := (float64(i/avsync.GridW) + 0.5) / avsync.GridH
		if cx >= r.x0 && cx < r.x1 && cy >= r.y0 && cy < r.y1 {
			sum += int(v)
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return float64(sum) / float64(n), true
}

// flashOnsets are the timestamps of the pictures where r turned white.
func flashOnsets(pics []avsync.Picture, r rectF) []time.Duration {
	var out []time.Duration
	prev := 255.0
	for _, p := range pics {
		m, ok := meanLuma(p.Luma, r)
		if !ok {
			return nil
		}
		if m >= flashWhite && prev < flashDark {
			out = append(out, p.PTS)
		}
		prev = m
	}
	return out
}

// flashDelay is how long after its flash left the camera a picture that
// arrived at `at` showed it: the camera flashes phase into every second of
// the wall clock, so the flash shown is the latest that left at or before
// at. A delay of a second or more would read as its remainder.
func flashDelay(at time.Time, phase time.Duration) time.Duration {
	d := (at.UnixNano() - phase.Nanoseconds()) % int64(time.Second)
	if d < 0 {
		d += int64(time.Second)
	}
	return time.Duration(d)
}

// flashLatencies decodes what v received and returns, for each flash that
// reached it in one of the tiles, how long after it left its camera it
// arrived (ms). tiles[i] is where phases[i]'s camera appears.
func (v *flashViewer) flashLatencies(ctx context.Context, dir string, tiles []rectF, phases []time.Duration) ([]float64, error) {
	file := filepath.Join(dir, fmt.Sprintf("arrivals-%d.mp4", time.Now().UnixNano()))
	origin, _, err := v.writeArrivalMP4(file)
	if err != nil {
		return nil, err
	}
	c, err := avsync.DecodeFile(ctx, file, avsync.Options{})
	if err != nil {
		return nil, fmt.Errorf("whep %s: decoding what arrived: %w", v.path, err)
	}
	var ms []float64
	for i, r := range tiles {
		for _, on := range flashOnsets(c.Pictures, r) {
			ms = append(ms, float64(flashDelay(origin.Add(on), phases[i]).Microseconds())/1000)
		}
	}
	return ms, nil
}

// EndToEnd is the latency from camera to WHEP viewer, timed with the
// avsync pattern: each flash leaves camsim at a known wall-clock time
// (camsim.PatternPhase) and a viewer notes when the picture showing it
// arrived, the packet that completed it (a browser's jitter buffer,
// decoding and display come on top).
type EndToEnd struct {
	// Composite is the composite's viewer (/whep/sessions/{id}): each
	// point's flash in its own tile.
	Composite        Percentiles `json:"composite_ms"`
	CompositeFlashes int         `json:"composite_flashes"`
	// Passthrough is a viewer of the first camera passed through
	// (/whep/sources/{id}): ingest and WHEP without the mixer.
	Passthrough        Percentiles `json:"passthrough_ms"`
	PassthroughFlashes int         `json:"passthrough_flashes"`
	// ExpectedFlashes is what left the cameras in the window: one a
	// second from each point.
	ExpectedFlashes int `json:"expected_flashes"`
}

// flashViewers are the two timing viewers of a session: the composite's
// and the first camera's passthrough.
type flashViewers struct {
	composite, passthrough *flashViewer
}

func (e *env) startFlashViewers(ctx context.Context, sid, source string) (*flashViewers, error) {
	e.progress("latency: connecting the flash viewers")
	base, token := e.server.API.Base, e.server.API.Token
	comp, err := dialFlashViewer(ctx, base, "/whep/sessions/"+sid, token)
	if err != nil {
		return nil, fmt.Errorf("latency viewer: %w", err)
	}
	pass, err := dialFlashViewer(ctx, base, "/whep/sources/"+source, token)
	if err != nil {
		comp.close()
		return nil, fmt.Errorf("latency viewer: %w", err)
	}
	return &flashViewers{composite: comp, passthrough: pass}, nil
}

func (f *flashViewers) record(on bool) {
	f.composite.record(on)
	f.passthrough.record(on)
}

func (f *flashViewers) close() {
	f.composite.close()
	f.passthrough.close()
}

// endToEnd decodes what the viewers received in the window (window
// seconds long) and times the flashes of the points on a w×h grid.
func (f *flashViewers) endToEnd(ctx context.Context, e *env, points, w, h int, window float64) (*EndToEnd, error) {
	phases := make([]time.Duration, points)
	for i := range phases {
		phases[i] = camsim.PatternPhase(e.cameraOf(i+1), e.camsimCameras(points))
	}
	dir := e.dir
	comp, err := f.composite.flashLatencies(ctx, dir, tileMiddles(points, w, h), phases)
	if err != nil {
		return nil, err
	}
	e2e := &EndToEnd{Composite: percentiles(comp), CompositeFlashes: len(comp), ExpectedFlashes: int(window) * points}
	// The passthrough is camera 1's whole picture.
	pass, err := f.passthrough.flashLatencies(ctx, dir, []rectF{{0.25, 0.2, 0.75, 0.7}}, phases[:1])
	if err != nil {
		return e2e, err
	}
	e2e.Passthrough, e2e.PassthroughFlashes = percentiles(pass), len(pass)
	return e2e, nil
}

// With the pattern, camsim runs twice the cameras and point i takes camera
// 2i-1: tones 200 Hz apart (1000, 1200, 1400 Hz …), which the meter tells
// apart in a mix better than the neighbours' 100 Hz, and the same turns as
// n cameras (camera 2i-1 of 2n flashes (i-1)/n into the second).
func (e *env) camsimCameras(points int) int {
	if e.pattern {
		return 2 * points
	}
	return points
}

// cameraOf is the camsim camera of point i (1-based).
func (e *env) cameraOf(point int) int {
	if e.pattern {
		return 2*point - 1
	}
	return point
}

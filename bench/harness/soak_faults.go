package harness

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// SoakEvent is one thing the soak did or saw, for the report's timeline.
type SoakEvent struct {
	AtS    float64 `json:"at_s"`
	Kind   string  `json:"kind"` // kill, ready, resumed, camera-drop, camera-up, point-left, point-joined, error
	Detail string  `json:"detail,omitempty"`
}

// soakTimeline keeps the events and when each stream's feed stopped.
type soakTimeline struct {
	epoch  time.Time
	mu     sync.Mutex
	events []SoakEvent
	stops  stopTimes
}

func newSoakTimeline() *soakTimeline { return &soakTimeline{epoch: time.Now(), stops: stopTimes{}} }

func (t *soakTimeline) add(kind, format string, a ...any) {
	t.mu.Lock()
	t.events = append(t.events, SoakEvent{AtS: time.Since(t.epoch).Seconds(), Kind: kind, Detail: fmt.Sprintf(format, a...)})
	t.mu.Unlock()
}

// stopped notes that a stream's feed stopped at at.
func (t *soakTimeline) stopped(stream string, at time.Time) {
	t.mu.Lock()
	t.stops.add(stream, at)
	t.mu.Unlock()
}

func (t *soakTimeline) snapshot() ([]SoakEvent, stopTimes) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := stopTimes{}
	for k, v := range t.stops {
		st[k] = append([]time.Time(nil), v...)
	}
	return append([]SoakEvent(nil), t.events...), st
}

func (t *soakTimeline) count(kind string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, e := range t.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// dropCameras stops one camera in turn every `every`, for `down`, then
// starts it again on its port (the server's source reconnects by itself).
func dropCameras(ctx context.Context, cams []*soakCamera, g *ProcGroup, every, down time.Duration, tl *soakTimeline) {
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		c := cams[i%len(cams)]
		at := time.Now()
		c.drop()
		tl.stopped("sources/"+c.name, at)
		tl.add("camera-drop", "%s", c.name)
		select {
		case <-ctx.Done():
			return
		case <-time.After(down):
		}
		if err := c.start(ctx, g); err != nil {
			if ctx.Err() != nil {
				return
			}
			tl.add("error", "%s did not start again: %v", c.name, err)
			return
		}
		tl.add("camera-up", "%s", c.name)
	}
}

// churnPoints makes a point leave the running session, and join it again
// a period later, the next point in turn, every `every`: a PATCH of the
// session's points, retried while the server is down.
func churnPoints(ctx context.Context, api *API, sid string, points []SessionPoint, every time.Duration, tl *soakTimeline) {
	out := -1 // the point that left, or none
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		var want []SessionPoint
		leaving := -1
		if out < 0 {
			leaving = (i / 2) % len(points)
		}
		for j, p := range points {
			if j != leaving {
				want = append(want, p)
			}
		}
		at := time.Now()
		for ctx.Err() == nil {
			err := api.do(ctx, "PATCH", "/api/v1/sessions/"+sid, map[string]any{"points": want}, nil)
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		if ctx.Err() != nil {
			return
		}
		if leaving >= 0 {
			tl.stopped("sources/"+points[leaving].Source, at)
			tl.add("point-left", "%s", points[leaving].ID)
			out = leaving
		} else {
			tl.add("point-joined", "%s", points[out].ID)
			out = -1
		}
	}
}

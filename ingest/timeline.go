package ingest

import (
	"sync"
	"time"

	"diemcau/pipeline"
)

// timeline keeps a source's timestamps going forward across reconnections.
// Each connection's depacketiser starts its clock near zero; readers (WHEP
// in display order, the recorder, the mixer) must never see time go back,
// so a new connection continues where the last one ended plus the time the
// camera was away.
type timeline struct {
	mu      sync.Mutex
	offset  time.Duration // added to this connection's timestamps
	end     time.Duration // latest PTS written, after the offset
	endWall time.Time     // when it was written
	started bool
}

// reconnect is called before each new connection.
func (t *timeline) reconnect() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		t.offset = t.end + time.Since(t.endWall)
	}
}

// shift moves a frame onto the source's continuous timeline.
func (t *timeline) shift(f *pipeline.Frame) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f.PTS += t.offset
	f.DTS += t.offset
	if !t.started || f.PTS > t.end {
		t.end, t.endWall, t.started = f.PTS, time.Now(), true
	}
}

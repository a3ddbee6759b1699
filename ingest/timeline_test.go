package ingest

import (
	"testing"
	"time"

	"diemcau/pipeline"
)

func TestTimelineContinuesAcrossReconnects(t *testing.T) {
	var tl timeline
	tl.reconnect()
	frames := []time.Duration{0, 40 * time.Millisecond, 80 * time.Millisecond}
	var last time.Duration
	for _, pts := range frames {
		f := &pipeline.Frame{PTS: pts, DTS: pts}
		tl.shift(f)
		last = f.PTS
	}
	time.Sleep(20 * time.Millisecond)
	tl.reconnect() // the camera came back; its clock restarts at zero
	f := &pipeline.Frame{PTS: 0, DTS: 0}
	tl.shift(f)
	if f.PTS <= last || f.DTS != f.PTS {
		t.Fatalf("after a reconnect PTS %v, want after %v", f.PTS, last)
	}
	if gap := f.PTS - last; gap < 20*time.Millisecond {
		t.Fatalf("the time away (%v) is missing from the timeline", gap)
	}
}

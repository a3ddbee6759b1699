package control

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"diemcau/ingest"
	"diemcau/internal/testkit"
)

// A source's camera clock offset is shown by GET /api/v1/sources/{id} and
// as a gauge; a source whose camera sends no sender report has neither.
func TestSourceClockOffsetShown(t *testing.T) {
	ahead, at := 40.125, time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	sources := fakeSources{
		"tinh": {ID: "tinh", State: ingest.StateOnline, ClockOffsetS: &ahead, ClockOffsetAt: &at},
		"xa-a": {ID: "xa-a", State: ingest.StateOnline},
	}
	base := startServer(t, Deps{Sources: sources})

	status, body := do(t, "GET", base+"/api/v1/sources/tinh", "op-token", "")
	if status != http.StatusOK || body["clock_offset_s"] != 40.125 || body["clock_offset_at"] != "2026-03-01T08:00:00Z" {
		t.Fatalf("status %d body %v, want clock_offset_s 40.125 at 2026-03-01T08:00:00Z", status, body)
	}
	_, body = do(t, "GET", base+"/api/v1/sources/xa-a", "op-token", "")
	if _, has := body["clock_offset_s"]; has {
		t.Fatalf("clock_offset_s shown for a camera that sends no sender report: %v", body)
	}

	raw := testkit.Scrape(t, base)
	if !strings.Contains(raw, `diemcau_source_clock_offset_seconds{source="tinh"} 40.125`) {
		t.Errorf("metrics lack the clock offset of tinh")
	}
	if strings.Contains(raw, `diemcau_source_clock_offset_seconds{source="xa-a"}`) {
		t.Errorf("metrics show a clock offset for xa-a, whose camera sends no sender report")
	}
}

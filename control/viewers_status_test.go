package control

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"diemcau/control/whep"
)

// TestViewerListInStatusAndMetrics: the WHEP viewers of a session, one by
// one, in its status (with the count per rendition) and in the metrics.
func TestViewerListInStatusAndMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := openStore(t, ctx)
	createSession(t, ctx, st, "phien")
	list := []whep.ViewerStats{
		{ID: "v1", Rendition: "main", BandwidthKbps: 2400, BandwidthFrom: "remb", LossPct: 0.5, RTTMS: 42},
		{ID: "v2", Rendition: "low", BandwidthKbps: 480, BandwidthFrom: "delivered", LossPct: 12, RTTMS: 180, Moves: 1},
		{ID: "v3", Rendition: "low", BandwidthKbps: 500, BandwidthFrom: "delivered"},
	}
	deps := Deps{Sources: fakeSources{}, Store: st,
		Viewers:     func(string) int { return len(list) },
		ViewerStats: func(id string) []whep.ViewerStats { return list },
	}
	base := startServer(t, deps)
	get := func(path string) []byte {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer admin-token")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
		}
		return b
	}
	var view struct {
		Renditions map[string]int     `json:"renditions"`
		ViewerList []whep.ViewerStats `json:"viewer_list"`
	}
	if err := json.Unmarshal(get("/api/v1/sessions/phien"), &view); err != nil {
		t.Fatal(err)
	}
	if view.Renditions["main"] != 1 || view.Renditions["low"] != 2 || len(view.ViewerList) != 3 || view.ViewerList[1] != list[1] {
		t.Errorf("status: renditions %v, viewers %+v", view.Renditions, view.ViewerList)
	}
	metrics := string(get("/metrics"))
	wantMetrics(t, metrics,
		`diemcau_session_rendition_viewers{rendition="low",session="phien"} 2`,
		`diemcau_viewer_bandwidth_kbps{from="remb",rendition="main",session="phien",viewer="v1"} 2400`,
		`diemcau_viewer_loss_ratio{session="phien",viewer="v2"} 0.12`,
		`diemcau_viewer_rtt_seconds{session="phien",viewer="v2"} 0.18`,
	)
	if strings.Contains(metrics, `diemcau_viewer_rtt_seconds{session="phien",viewer="v3"}`) {
		t.Error("a viewer without a round trip yet has one in the metrics")
	}
}

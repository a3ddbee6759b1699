package avsync_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"diemcau/control/whep"
	"diemcau/ingest/avsync"
	"diemcau/ingest/sim"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

const whepToken = "whep-test-token-1"

// oneSource serves one stream as /whep/sources/tinh.
type oneSource struct{ s *pipeline.Stream }

func (o oneSource) Source(id string) (*pipeline.Stream, bool) { return o.s, id == "tinh" }
func (o oneSource) Session(id, _ string) (*pipeline.Stream, error) {
	return nil, whep.ErrNotFound
}

func bearer(r *http.Request, _ whep.Target) (whep.Grant, bool) {
	return whep.Grant{Who: "test"}, r.Header.Get("Authorization") == "Bearer "+whepToken
}

// TestMeasureOverWHEP reads a sim://NAME?pattern=avsync source through
// the project's WHEP server with the meter's pion client (tracks put on
// one clock by the sender reports), as a browser viewer would.
func TestMeasureOverWHEP(t *testing.T) {
	needFFmpeg(t)
	log := slog.New(slog.DiscardHandler)
	src, err := sim.New(sim.Config{ID: "tinh", URL: "sim://tinh?pattern=avsync", Width: 320, Height: 180, FPS: 25, BitrateKbps: 300}, log)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := whep.New(whep.Config{ListenIPs: []string{"127.0.0.1"}}, log, oneSource{src.Stream()}, bearer)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, "whep server", srv.Run).WaitReady(srv.Ready(), 10*time.Second)
	testkit.Start(t, "sim source", src.Run)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	waitOnline(t, src)

	t.Run("in sync", func(t *testing.T) {
		mctx, mcancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer mcancel()
		rep, err := avsync.Measure(mctx, hs.URL+"/whep/sources/tinh", avsync.Options{Seconds: 4, Token: whepToken})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Kind != avsync.KindWHEP || rep.Clock != "video rtcp, audio rtcp" {
			t.Errorf("kind %s, clock %q: want whep on the sender reports' clock", rep.Kind, rep.Clock)
		}
		checkInSync(t, rep, "opus")
	})
	t.Run("a wrong token could not open", func(t *testing.T) {
		rep, err := avsync.Measure(context.Background(), hs.URL+"/whep/sources/tinh", avsync.Options{Seconds: 2, Token: "not-" + whepToken})
		if !errors.Is(err, avsync.ErrOpen) || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), whepToken) {
			t.Fatalf("error %v, want ErrOpen with the 401 and without the token", err)
		}
		if rep.Verdict != avsync.Fail {
			t.Errorf("verdict %s", rep.Verdict)
		}
	})
}

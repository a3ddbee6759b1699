package whep

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"diemcau/ingest"
	"diemcau/internal/lossyudp"
	"diemcau/internal/testkit"
)

// TestLinkFigures: a point node's two legs, its program out (Pusher, WHIP)
// and its return feed in (Puller, WHEP), each through a UDP relay that
// loses a share of the datagrams each way and holds each 20 ms: the loss
// and the round trip each end reads back are the relay's, within what
// chance allows; the bitrate is what the clip carries. On a clean path
// they read no loss.
func TestLinkFigures(t *testing.T) {
	clip := loadClip(t, false)
	tests := []struct {
		name string
		loss float64
	}{
		{"clean", 0},
		{"5 % lost", 0.05},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{DisableTCP: true}) // UDP only: every packet crosses the relay
			src := startWHIPSources(t, ts, "xa-a")["xa-a"]
			ts.resolver.sessions["demo"] = feedStream(t, "demo", clip, false)
			media := ts.srv.UDPAddrs()[0].String()
			const delay = 20 * time.Millisecond
			relay := func() *http.Client {
				r, err := lossyudp.StartDelayed(media, tc.loss, delay)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(r.Close)
				return &http.Client{Timeout: 10 * time.Second, Transport: viaRelay{media: media, relay: r.Addr()}}
			}

			p, err := NewPusher(PusherConfig{Name: "hub", URL: ts.http.URL + "/whip/ingest/xa-a", Token: pointInvite,
				Stream: feedStream(t, "program", clip, false), Client: relay()}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			pl, err := NewPuller(ingest.SourceConfig{ID: "hub", URL: "whep://:" + testToken + "@" + strings.TrimPrefix(ts.http.URL, "http://") + "/whep/sessions/demo"},
				slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			pl.client = relay()
			testkit.Start(t, "pusher", p.Run)
			testkit.Start(t, "puller", pl.Run)
			waitState(t, src, ingest.StateOnline, 20*time.Second)
			testkit.Eventually(t, 20*time.Second, "the return feed online", func() bool { return pl.Status().State == ingest.StateOnline })
			time.Sleep(9 * time.Second) // most of the 10 s window

			out, hubView, in := p.Link(), src.Status().Net, pl.Status().Net
			t.Logf("relay loses %.0f %% each way, %v each way", 100*tc.loss, delay)
			t.Logf("out, the pusher's view: %+v", out)
			t.Logf("out, the hub's view:    %+v", *hubView)
			t.Logf("in, the puller's view:  %+v", *in)
			want := 100 * tc.loss
			// Some 800 packets in the window: a 5 % share reads 5 ± 2.5 at
			// three standard deviations.
			near := func(what string, got float64) {
				t.Helper()
				if got < want-2.5 || got > want+2.5 {
					t.Errorf("%s: %.2f %% lost, want %.0f %%", what, got, want)
				}
			}
			near("out, the pusher's view", out.LossPct)
			near("out, the hub's view", hubView.PathLossPct)
			near("in, the puller's view", in.PathLossPct)
			// 300 kbit/s of video and Opus's ~40: the payloads the hub
			// counts, and the pusher's packets with their headers.
			if out.BitrateKbps < 250 || out.BitrateKbps > 600 {
				t.Errorf("out: %.0f kbit/s sent, want the clip's 300-odd", out.BitrateKbps)
			}
			if in.BitrateKbps < 200 {
				t.Errorf("in: %.0f kbit/s received, want the clip's 300-odd", in.BitrateKbps)
			}
			// The relay's hold is a floor; a busy machine adds its own
			// scheduling on top, not tens of ms in the usual case.
			rtt := 2 * delay.Seconds() * 1000
			for what, got := range map[string]float64{"out (RTCP)": out.RTTMS, "in (ICE)": in.RTTMS} {
				if got < rtt*0.9 || got > rtt+150 {
					t.Errorf("%s: round trip %.1f ms, want about %.0f", what, got, rtt)
				}
			}
			if tc.loss > 0 && (out.Retransmitted == 0 || in.NACKsSent == 0) {
				t.Errorf("a lossy path without repairs: %d retransmitted out, %d NACKs sent in", out.Retransmitted, in.NACKsSent)
			}
		})
	}
}

// viaRelay is an HTTP transport that points a WHIP or WHEP answer's media
// address at a relay: the client then sends every datagram through it.
type viaRelay struct{ media, relay string }

func (v viaRelay) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || res.Header.Get("Content-Type") != "application/sdp" {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	mh, mp, _ := net.SplitHostPort(v.media)
	rh, rp, _ := net.SplitHostPort(v.relay)
	cand := regexp.MustCompile(fmt.Sprintf(`(a=candidate:\S+ \d+ udp \d+ )%s %s( typ host)`, regexp.QuoteMeta(mh), mp))
	if !cand.Match(body) {
		return nil, fmt.Errorf("the answer has no UDP candidate at %s:\n%s", v.media, body)
	}
	body = cand.ReplaceAll(body, []byte("${1}"+rh+" "+rp+"${2}"))
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	return res, nil
}

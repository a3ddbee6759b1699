package whep

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"diemcau/internal/testkit"

	"github.com/pion/webrtc/v4"
)

// postFrom offers from a given loopback address and returns the status,
// the error code and the resource.
func postFrom(ctx context.Context, t *testing.T, from, url, token, offer string) (int, string, string) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(offer))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/sdp")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	code := ""
	if i := strings.Index(string(body), `"code":"`); i >= 0 {
		code, _, _ = strings.Cut(string(body[i+8:]), `"`)
	}
	return res.StatusCode, code, res.Header.Get("Location")
}

// TestViewerCaps: one invite token cannot take more than its share, nor
// one address; operator tokens are capped by address only; every refusal
// is counted, and an ended viewer gives its place back.
func TestViewerCaps(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{MaxViewersPerToken: 2, MaxViewersPerIP: 3, MaxConnectingPerIP: 10, ConnectTimeout: 30 * time.Second})
	ts.resolver.sessions["demo"] = feedStream(t, "demo", clip, false)
	offer := offerSDP(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	demo := ts.http.URL + "/whep/sessions/demo"

	steps := []struct {
		name, from, token string
		status            int
		code              string
	}{
		{"invite 1", "127.0.0.1", inviteToken, http.StatusCreated, ""},
		{"invite 2 from elsewhere", "127.0.0.2", inviteToken, http.StatusCreated, ""},
		{"invite 3: the token's share is taken", "127.0.0.3", inviteToken, http.StatusTooManyRequests, "token_full"},
		{"operator, same address as invite 1", "127.0.0.1", testToken, http.StatusCreated, ""},
		{"operator again", "127.0.0.1", testToken, http.StatusCreated, ""},
		{"operator: the address's share is taken", "127.0.0.1", testToken, http.StatusTooManyRequests, "address_full"},
		{"operator from another address", "127.0.0.4", testToken, http.StatusCreated, ""},
	}
	var first string
	for _, st := range steps {
		status, code, loc := postFrom(ctx, t, st.from, demo, st.token, offer)
		if status != st.status || code != st.code {
			t.Errorf("%s: %d %q, want %d %q", st.name, status, code, st.status, st.code)
		}
		if first == "" {
			first = loc
		}
	}
	refused := ts.srv.Refused()
	if refused[RefusedMaxViewersPerToken] != 1 || refused[RefusedMaxViewersPerIP] != 1 {
		t.Errorf("refused %v, want one per token and one per address", refused)
	}
	// The first invite viewer leaves: the token has a place again.
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, ts.http.URL+first, nil)
	req.Header.Set("Authorization", "Bearer "+inviteToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	testkit.Eventually(t, 10*time.Second, "the viewer to leave", func() bool { return ts.srv.Open() == 4 })
	if status, code, _ := postFrom(ctx, t, "127.0.0.3", demo, inviteToken, offer); status != http.StatusCreated {
		t.Errorf("invite after one left: %d %q, want 201", status, code)
	}
}

// TestConnectingPerAddress: one address's offers that never connect take
// no more than its share of the connecting slots; others still connect.
func TestConnectingPerAddress(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{MaxConnecting: 8, MaxConnectingPerIP: 2, ConnectTimeout: 30 * time.Second})
	ts.resolver.sources["cam1"] = feedStream(t, "cam1", clip, false)
	offer := offerSDP(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := ts.http.URL + "/whep/sources/cam1"
	var got []int
	for range 4 {
		status, _, _ := postFrom(ctx, t, "127.0.0.2", url, testToken, offer)
		got = append(got, status)
	}
	if want := []int{201, 201, 429, 429}; !equalInts(got, want) {
		t.Errorf("four offers from one address: %v, want %v", got, want)
	}
	c := watchKeyframe(ctx, t, ts, "/whep/sources/cam1", "a viewer from another address")
	c.close(ctx)
	if n := ts.srv.Refused()[RefusedMaxConnectingPerIP]; n != 2 {
		t.Errorf("refused per address while connecting: %d, want 2", n)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestServerCapSaysSo: past webrtc.max_viewers an offer gets 503 with the
// cap and the key that sets it, and a Retry-After.
func TestServerCapSaysSo(t *testing.T) {
	clip := loadClip(t, false)
	ts := startServer(t, Config{MaxViewers: 1})
	ts.resolver.sources["cam1"] = feedStream(t, "cam1", clip, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := ts.watch(ctx, t, "/whep/sources/cam1", testToken, clientOpts{})
	defer c.close(ctx)
	_, offer, err := makeOfferPC(t)
	if err != nil {
		t.Fatal(err)
	}
	res, err := post(ctx, ts.http.URL+"/whep/sources/cam1", testToken, "application/sdp", offer)
	if err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" ||
		!strings.Contains(res.body, "maximum of 1 viewers (webrtc.max_viewers)") {
		t.Errorf("over the cap: %d, Retry-After %q, %s", res.status, res.header.Get("Retry-After"), res.body)
	}
}

// makeOfferPC is a receive-only offer from a peer connection closed with
// the test.
func makeOfferPC(t *testing.T) (*webrtc.PeerConnection, string, error) {
	api, err := clientAPI(clientOpts{})
	if err != nil {
		return nil, "", err
	}
	pc, sdp, err := makeOffer(api, true)
	if err == nil {
		t.Cleanup(func() { _ = pc.Close() })
	}
	return pc, sdp, err
}

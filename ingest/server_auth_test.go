package ingest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"

	"diemcau/internal/testkit"
)

// testAuthorizer stands for the control plane: "op-token" reads anything,
// "inv-token" (invite inv1 of session demo) reads /sessions/demo only.
func testAuthorizer(_, pass, path string) (ReadGrant, error) {
	switch pass {
	case "op-token":
		return ReadGrant{Who: "token op"}, nil
	case "inv-token":
		if path != "sessions/demo" {
			return ReadGrant{}, ErrReadForbidden
		}
		return ReadGrant{Who: "invite inv1", Invite: "inv1", Session: "demo"}, nil
	}
	return ReadGrant{}, ErrReadDenied
}

// serveClips serves a fed clip at each path until the test ends.
func serveClips(ctx context.Context, t *testing.T, srv *testServer, paths ...string) {
	t.Helper()
	clip := loadClip(t, clipSpec{})
	for _, p := range paths {
		serveClip(ctx, t, srv, p, clip)
	}
}

// TestReaderLogins: with nothing configured, reading needs a login: an
// operator token (any user), an invite token for its own session only,
// rtsp.read_user, or the server's internal credential; ffprobe is refused
// without one. Secrets never reach the log; refusals are counted.
func TestReaderLogins(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var logged logBuffer
	srv := startServerWith(t, logged.logger(), ServerConfig{Listen: "127.0.0.1:0", ReadUser: "xem", ReadPass: "k1n-s3cret"})
	srv.SetReadAuthorizer(testAuthorizer)
	serveClips(ctx, t, srv, "sessions/demo", "sessions/other")
	host := strings.TrimPrefix(srv.url, "rtsp://")
	internal, err := srv.LoopbackURL("sessions/other")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, url string
		want      string // "" reads; else what ffprobe must show
	}{
		{"no credentials", "rtsp://" + host + "/sessions/demo", "401"},
		{"unknown token", "rtsp://op:guess@" + host + "/sessions/demo", "401"},
		{"operator token, any user", "rtsp://whoever:op-token@" + host + "/sessions/other", ""},
		{"invite, its session", "rtsp://inv1:inv-token@" + host + "/sessions/demo", ""},
		{"invite, another session", "rtsp://inv1:inv-token@" + host + "/sessions/other", "403"},
		{"read_user", "rtsp://xem:k1n-s3cret@" + host + "/sessions/demo", ""},
		{"read_user, wrong password", "rtsp://xem:k1n@" + host + "/sessions/demo", "401"},
		{"internal credential", internal, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-rtsp_transport", "tcp",
				"-show_entries", "stream=codec_name", "-of", "csv=p=0", tc.url).CombinedOutput()
			switch {
			case tc.want == "" && (err != nil || !strings.Contains(string(out), "h264")):
				t.Errorf("ffprobe did not read: %v\n%s", err, out)
			case tc.want != "" && (err == nil || !strings.Contains(string(out), tc.want)):
				t.Errorf("ffprobe: %v, want a refusal with %s:\n%s", err, tc.want, out)
			}
		})
	}
	srv.access.flush(srv.log, true)
	got := srv.AuthFailures()
	if got[authReadCredentials] < 2 || got[authReadForbidden] < 1 {
		t.Errorf("refusals counted %v, want ≥2 read_credentials and ≥1 read_forbidden", got)
	}
	text := logged.String()
	for _, secret := range []string{"op-token", "inv-token", "k1n-s3cret", "guess", srv.internalPass} {
		if strings.Contains(text, secret) {
			t.Errorf("the log shows the secret %q", secret)
		}
	}
	if !strings.Contains(text, "unknown or revoked credentials") || !strings.Contains(text, "not valid for the path") {
		t.Errorf("refusals not summarised in the log:\n%s", text)
	}
}

// TestReadChallenge: readers are offered Basic alone (a token, kept as a
// hash, can only be checked from Basic; clients pick Digest when offered),
// and Digest as well only with rtsp.read_digest, which works for
// rtsp.read_user.
func TestReadChallenge(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name   string
		cfg    ServerConfig
		digest bool
	}{
		{"default", ServerConfig{Listen: "127.0.0.1:0"}, false},
		{"read_digest", ServerConfig{Listen: "127.0.0.1:0", ReadUser: "xem", ReadPass: "k1n", ReadDigest: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServerWith(t, testkit.Logger(t), tc.cfg)
			srv.SetReadAuthorizer(testAuthorizer)
			serveClips(ctx, t, srv, "sessions/demo")
			host := strings.TrimPrefix(srv.url, "rtsp://")
			res := rawRequest(t, host, "DESCRIBE rtsp://"+host+"/sessions/demo RTSP/1.0\r\nCSeq: 1\r\n\r\n")
			if !strings.HasPrefix(res, "RTSP/1.0 401") || !strings.Contains(res, "WWW-Authenticate: Basic") {
				t.Fatalf("response without credentials:\n%s", res)
			}
			if got := strings.Contains(res, "WWW-Authenticate: Digest"); got != tc.digest {
				t.Errorf("Digest offered %v, want %v:\n%s", got, tc.digest, res)
			}
			// ffprobe logs in with whatever was offered (Digest when it is).
			user := "op:op-token@"
			if tc.digest {
				user = "xem:k1n@"
			}
			probe := ffprobe(ctx, t, "rtsp://"+user+host+"/sessions/demo", "tcp")
			if len(probe) == 0 || probe[0].CodecName != "h264" {
				t.Errorf("ffprobe read %+v", probe)
			}
		})
	}
}

func rawRequest(t *testing.T, host, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		b.WriteString(line)
		if err != nil || line == "\r\n" {
			return b.String()
		}
	}
}

// TestAnonymousRead: rtsp.anonymous_read opens reading to anyone, and the
// server says so in its log at start.
func TestAnonymousRead(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var logged logBuffer
	srv := startServerWith(t, logged.logger(), ServerConfig{Listen: "127.0.0.1:0", AnonymousRead: true})
	serveClips(ctx, t, srv, "sources/cam")
	probe := ffprobe(ctx, t, srv.url+"/sources/cam", "tcp")
	if len(probe) == 0 || probe[0].CodecName != "h264" {
		t.Errorf("ffprobe read %+v", probe)
	}
	if text := logged.String(); !strings.Contains(text, "level=WARN") || !strings.Contains(text, "anonymous_read is on") {
		t.Errorf("no warning at start:\n%s", text)
	}
}

// TestEndGrantEndsReaders: revoking an invite disconnects, within 2 s, the
// RTSP readers it let in and no other, and refuses it even to a reader
// whose check raced the revocation; ending a session disconnects its
// composite's readers and leaves other sessions' alone.
func TestEndGrantEndsReaders(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv := startServerWith(t, testkit.Logger(t), ServerConfig{Listen: "127.0.0.1:0"})
	srv.SetReadAuthorizer(testAuthorizer)
	serveClips(ctx, t, srv, "sessions/demo", "sessions/other")
	host := strings.TrimPrefix(srv.url, "rtsp://")

	type reader struct {
		packets func() int
		closed  chan time.Time
	}
	readers := map[string]reader{}
	for _, r := range []struct{ name, url string }{
		{"invite/demo", "rtsp://inv1:inv-token@" + host + "/sessions/demo"},
		{"operator/demo", "rtsp://op:op-token@" + host + "/sessions/demo"},
		{"operator/other", "rtsp://op:op-token@" + host + "/sessions/other"},
	} {
		c, packets := playClient(t, r.url)
		closed := make(chan time.Time, 1)
		go func() { _ = c.Wait(); closed <- time.Now() }()
		readers[r.name] = reader{packets, closed}
		testkit.WaitFor(t, ctx, r.name+" receiving", func() bool { return packets() > 10 })
	}
	endsWithin := func(name string, start time.Time) {
		t.Helper()
		select {
		case at := <-readers[name].closed:
			if d := at.Sub(start); d > 2*time.Second {
				t.Errorf("%s ended %v after the right ended, want ≤ 2 s", name, d)
			} else {
				t.Logf("%s ended %v after the right ended", name, d.Round(time.Millisecond))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s still connected 5 s after the right ended", name)
		}
	}
	flowing := func(name string) {
		t.Helper()
		r := readers[name]
		select {
		case <-r.closed:
			t.Fatalf("%s was disconnected", name)
		default:
		}
		before := r.packets()
		testkit.WaitFor(t, ctx, name+" still receiving", func() bool { return r.packets() > before+10 })
	}

	start := time.Now()
	if n := srv.EndInvite("inv1"); n != 1 {
		t.Errorf("EndInvite ended %d readers, want 1", n)
	}
	endsWithin("invite/demo", start)
	flowing("operator/demo")
	flowing("operator/other")

	// testAuthorizer still accepts the invite, as a check that ran just
	// before the store changed would: SETUP refuses it all the same.
	if err := setupRead(t, "rtsp://inv1:inv-token@"+host+"/sessions/demo"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a revoked invite read again: %v", err)
	}

	start = time.Now()
	if n := srv.EndSession("demo"); n != 1 {
		t.Errorf("EndSession ended %d readers, want 1", n)
	}
	endsWithin("operator/demo", start)
	flowing("operator/other")
}

// setupRead DESCRIBEs and SETUPs url, and returns the first error.
func setupRead(t *testing.T, raw string) error {
	t.Helper()
	c, _, err := setupReader(t, raw, gortsplib.TransportTCP)
	c.Close() // at once: each call is a reader of its own
	return err
}

// TestPublishRefusalsSummarised: wrong publish credentials and a second
// publisher, while the real encoder publishes, are refused, counted by
// kind and logged as one summary line per period, not one per attempt;
// the source stays online without an error.
func TestPublishRefusalsSummarised(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var logged logBuffer
	srv := startServerWith(t, logged.logger(), ServerConfig{Listen: "127.0.0.1:0"})
	enc := runPush(t, srv, "enc", "push://enc:right@")
	host := strings.TrimPrefix(srv.url, "rtsp://")
	publish(t, "rtsp://enc:right@"+host+"/ingest/enc", publishSpec{})
	waitOnline(ctx, t, enc)

	const wrong, busy = 6, 4
	for i := range wrong {
		err := announce(t, fmt.Sprintf("rtsp://enc:guess%d@%s/ingest/enc", i, host))
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("wrong password %d: %v, want 401", i, err)
		}
	}
	for i := range busy {
		err := announce(t, "rtsp://enc:right@"+host+"/ingest/enc")
		if err == nil || !strings.Contains(err.Error(), "409") {
			t.Fatalf("second publisher %d: %v, want 409", i, err)
		}
	}
	if st := enc.Status(); st.State != StateOnline || st.Error != "" {
		t.Errorf("source %s %q after the refusals, want online without error", st.State, st.Error)
	}
	got := srv.AuthFailures()
	if got[authPublishCredentials] != wrong || got[authPublishBusy] != busy {
		t.Errorf("counted %v, want %d publish_credentials and %d publish_busy", got, wrong, busy)
	}
	srv.access.flush(srv.log, true)
	text := logged.String()
	for _, c := range []struct{ what string }{{"wrong publish credentials"}, {"already has a publisher"}} {
		if n := strings.Count(text, c.what); n != 1 {
			t.Errorf("%d log lines with %q, want one summary:\n%s", n, c.what, text)
		}
	}
	if !strings.Contains(text, fmt.Sprintf("count=%d", wrong)) || strings.Contains(text, "guess") {
		t.Errorf("summary without the count, or with a password:\n%s", text)
	}
}

// announce tries to publish an H.264 stream at raw and returns the error.
func announce(t *testing.T, raw string) error {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	tcp := gortsplib.TransportTCP
	c := &gortsplib.Client{Transport: &tcp}
	desc := &description.Session{Medias: []*description.Media{{
		Type:    description.MediaTypeVideo,
		Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}},
	}}}
	err = c.StartRecording(u.String(), desc)
	if err == nil {
		c.Close()
	}
	return err
}

package srt

import (
	"crypto/rand"
	"log/slog"
	"strings"
	"testing"
	"time"

	gosrt "github.com/datarhei/gosrt"
	"go.uber.org/goleak"

	"diemcau/ingest"
	"diemcau/internal/testkit"
)

// Callers the listener must refuse are refused with their reason in the
// log, and the secrets never appear there.
func TestCallersRefused(t *testing.T) {
	needFFmpeg(t)
	push, err := ingest.NewPushSource(ingest.PushConfig{ID: "rtspcam", URL: "push://u:p@"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r := startRig(t, 200*time.Millisecond, map[string]string{
		"cam":  "srt://:" + testPassphrase + "@",
		"open": "srt://",
	}, push)
	const wrong = "not-the-passphrase"
	cases := []struct {
		name, streamID, passphrase string
		reason, why                string
		state                      string // the source's error after, "" unchanged
	}{
		{"wrong passphrase", "ingest/cam", wrong, "wrong_passphrase", "wrong passphrase", "encoder sent a wrong passphrase"},
		{"no passphrase", "ingest/cam", "", "no_passphrase", "caller sent no passphrase", "encoder sent no passphrase"},
		{"passphrase to an open source", "ingest/open", testPassphrase, "unexpected_passphrase", "source has no passphrase", ""},
		{"unknown source", "#!::r=ingest/nope,m=publish", testPassphrase, "unknown_source", `no source \"nope\"`, ""},
		{"not an srt source", "ingest/rtspcam", testPassphrase, "not_srt_source", "not an srt:// source", ""},
		{"not a publisher", "#!::r=ingest/cam,m=request", testPassphrase, "not_publish", "mode is not publish", ""},
		{"stream id of another server", "live/stream1", testPassphrase, "bad_streamid", "stream id: want", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := publish(t, publishOpts{addr: r.addr, streamID: tc.streamID, passphrase: tc.passphrase, seconds: 1, fps: 25})
			if err == nil {
				t.Fatalf("ffmpeg was let in:\n%s", out)
			}
			testkit.Eventually(t, 5*time.Second, "refusal logged", func() bool {
				return strings.Contains(r.logs.String(), "reason="+tc.reason)
			})
			logs := r.logs.String()
			line := logs[strings.Index(logs, "reason="+tc.reason):]
			line = line[:strings.IndexByte(line, '\n')]
			if !strings.Contains(line, tc.why) {
				t.Errorf("log line %q does not say %q", line, tc.why)
			}
			if tc.state != "" {
				if st := r.sources["cam"].Status(); st.State != ingest.StateError || st.Error != tc.state {
					t.Errorf("source state %s %q, want error %q", st.State, st.Error, tc.state)
				}
			}
			if got := r.srv.Refused()[tc.reason]; got == 0 {
				t.Errorf("refusals[%s] = 0", tc.reason)
			}
		})
	}
	if logs := r.logs.String(); strings.Contains(logs, testPassphrase) || strings.Contains(logs, wrong) {
		t.Errorf("a passphrase reached the log:\n%s", logs)
	}
}

// A second encoder for a source that is live is refused; the first goes
// on undisturbed.
func TestSecondEncoderRefused(t *testing.T) {
	needFFmpeg(t)
	r := startRig(t, 200*time.Millisecond, map[string]string{"cam": "srt://:" + testPassphrase + "@"})
	src := r.sources["cam"].(*Source)
	c := countFrames(t, src.Stream())
	done := make(chan error, 1)
	go func() {
		_, err := publish(t, publishOpts{addr: r.addr, streamID: "ingest/cam", passphrase: testPassphrase, seconds: 3, fps: 25})
		done <- err
	}()
	testkit.Eventually(t, 5*time.Second, "source online", func() bool { return src.Status().State == ingest.StateOnline })
	if out, err := publish(t, publishOpts{addr: r.addr, streamID: "ingest/cam", passphrase: testPassphrase, seconds: 1, fps: 25}); err == nil {
		t.Fatalf("second encoder let in:\n%s", out)
	}
	if st := src.Status(); st.State != ingest.StateOnline {
		t.Errorf("first encoder's source is %s %q", st.State, st.Error)
	}
	if err := <-done; err != nil {
		t.Fatalf("first encoder: %v", err)
	}
	if !strings.Contains(r.logs.String(), `reason=busy`) || r.srv.Refused()["busy"] != 1 {
		t.Errorf("busy refusal not logged or counted:\n%s", r.logs.String())
	}
	c.checkVideo(t, 75, 25, 200*time.Millisecond)
}

// A caller that sends garbage instead of MPEG-TS is dropped with a clear
// reason; the listener goes on serving the next encoder.
func TestGarbageCaller(t *testing.T) {
	needFFmpeg(t)
	// Registered first, so it runs after the rig's own cleanup.
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
	r := startRig(t, 200*time.Millisecond, map[string]string{"cam": "srt://:" + testPassphrase + "@"})
	src := r.sources["cam"].(*Source)

	conf := gosrt.DefaultConfig()
	conf.StreamId = "ingest/cam"
	conf.Passphrase = testPassphrase
	conn, err := gosrt.Dial("srt", r.addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 1316)
	deadline := time.Now().Add(8 * time.Second)
	for src.Status().State != ingest.StateError && time.Now().Before(deadline) {
		rand.Read(junk)
		if _, err := conn.Write(junk); err != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	conn.Close()
	testkit.Eventually(t, 3*time.Second, "source in error", func() bool { return src.Status().State == ingest.StateError })
	st := src.Status()
	if !strings.Contains(st.Error, "MPEG-TS") {
		t.Fatalf("after garbage: %s %q", st.State, st.Error)
	}
	t.Logf("garbage caller: %s", st.Error)
	if !strings.Contains(r.logs.String(), "encoder refused") {
		t.Errorf("no refusal in the log:\n%s", r.logs.String())
	}

	// The listener still takes a real encoder.
	c := countFrames(t, src.Stream())
	if out, err := publish(t, publishOpts{addr: r.addr, streamID: "ingest/cam", passphrase: testPassphrase, seconds: 2, fps: 25}); err != nil {
		t.Fatalf("ffmpeg after the garbage: %v\n%s", err, out)
	}
	c.checkVideo(t, 50, 25, 200*time.Millisecond)
}

// An encoder sending codecs diemcau cannot carry (MPEG-2 video with MP2)
// is refused, the codecs named.
func TestUnsupportedCodecsRefused(t *testing.T) {
	needFFmpeg(t)
	r := startRig(t, 200*time.Millisecond, map[string]string{"cam": "srt://:" + testPassphrase + "@"})
	src := r.sources["cam"]
	_, _ = publish(t, publishOpts{addr: r.addr, streamID: "ingest/cam", passphrase: testPassphrase, seconds: 1, fps: 25,
		videoCodec: "mpeg2video", audioCodec: "mp2"})
	testkit.Eventually(t, 5*time.Second, "refusal", func() bool { return src.Status().State == ingest.StateError })
	want := "encoder sends MPEG-1/2 video, MPEG-1 audio (mp2): set it to H.264 or H.265 video with AAC or Opus audio"
	if st := src.Status(); st.Error != want {
		t.Errorf("error %q, want %q", st.Error, want)
	}
}

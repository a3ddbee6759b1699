package srt

import (
	"testing"
	"time"

	"diemcau/internal/lossyudp"
)

// Through a link losing 5 % of its datagrams each way, SRT's
// retransmission within a 200 ms latency delivers every frame.
func TestLossyLinkLosesNoFrame(t *testing.T) {
	needFFmpeg(t)
	r := startRig(t, 200*time.Millisecond, map[string]string{"cam": "srt://:" + testPassphrase + "@"})
	src := r.sources["cam"].(*Source)
	relay, err := lossyudp.Start(r.addr, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(relay.Close)
	c := countFrames(t, src.Stream())
	// 5 s are judged while the encoder still sends: when it hangs up,
	// what is in flight on the lossy link is lost with the connection.
	const seconds, judged, fps = 7, 5 * time.Second, 25
	out, err := publish(t, publishOpts{addr: relay.Addr(), streamID: "ingest/cam", passphrase: testPassphrase, seconds: seconds, fps: fps, latency: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	st := src.Status()
	video, audio := c.counts()
	missing, want := c.missingBefore(judged, fps)
	t.Logf("relay dropped %d of %d datagrams; srt %+v; received %d of %d video frames (%d audio); %d of the first %d missing", relay.Dropped(),
		relay.Dropped()+relay.Passed(), st.SRT, video, seconds*fps, audio, missing, want)
	if missing != 0 {
		t.Errorf("%d of the first %d video frames lost through 5 %% loss", missing, want)
	}
	if st.SRT == nil || st.SRT.PacketsRetransmitted == 0 || st.SRT.PacketsLost == 0 {
		t.Errorf("no loss or retransmission counted: %+v", st.SRT)
	}
}

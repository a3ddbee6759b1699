package srt

import (
	"strings"
	"testing"
	"time"

	"diemcau/ingest"
	"diemcau/internal/proctest"
	"diemcau/pipeline"
)

const testPassphrase = "correct-horse-battery"

// An encoder publishing MPEG-TS over SRT puts the source online and every
// frame it sends on the stream, in order, at the rate it was sent.
func TestEncoderPublishes(t *testing.T) {
	needFFmpeg(t)
	cases := []struct {
		name, url, streamID, passphrase string
	}{
		{"passphrase, access-control stream id", "srt://:" + testPassphrase + "@", "#!::r=ingest/cam,m=publish", testPassphrase},
		{"anonymous, plain stream id", "srt://", "ingest/cam", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := startRig(t, 200*time.Millisecond, map[string]string{"cam": tc.url})
			src := r.sources["cam"].(*Source)
			c := countFrames(t, src.Stream())
			const seconds, fps = 3, 25
			done := make(chan error, 1)
			var out string
			go func() {
				var err error
				out, err = publish(t, publishOpts{addr: r.addr, streamID: tc.streamID, passphrase: tc.passphrase, seconds: seconds, fps: fps})
				done <- err
			}()
			proctest.Eventually(t, 5*time.Second, "source online", func() bool { return src.Status().State == ingest.StateOnline })
			st := src.Status()
			if st.SRT == nil || !st.SRT.Connected || st.SRT.Encrypted != (tc.passphrase != "") || st.Transport != "srt" {
				t.Errorf("status while publishing: srt %+v transport %q", st.SRT, st.Transport)
			}
			if err := <-done; err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			proctest.Eventually(t, 5*time.Second, "source offline after the encoder left", func() bool { return src.Status().State == ingest.StateOffline })
			video, audio := c.counts()
			wantAudio := seconds * 48000 / 1024
			t.Logf("sent %d video frames, ~%d audio frames; received %d video, %d audio", seconds*fps, wantAudio, video, audio)
			c.checkVideo(t, seconds*fps, fps, 200*time.Millisecond)
			if tail := int(200*time.Millisecond*48000/1024/time.Second) + 3; audio < wantAudio-tail || audio > wantAudio+2 {
				t.Errorf("audio frames: got %d, want about %d", audio, wantAudio)
			}
			c.mu.Lock()
			tracks := c.tracks
			c.mu.Unlock()
			if len(tracks) != 2 || tracks[0].Codec != pipeline.H264 || tracks[0].Width != 320 || tracks[0].Height != 180 ||
				tracks[1].Codec != pipeline.AAC || tracks[1].SampleRate != 48000 {
				t.Errorf("tracks %+v", tracks)
			}
			st = src.Status()
			if st.SRT == nil || st.SRT.Connected || st.SRT.PacketsReceived == 0 {
				t.Errorf("status after: srt %+v", st.SRT)
			}
			if !strings.Contains(st.Error, "encoder") {
				t.Errorf("offline reason %q", st.Error)
			}
		})
	}
}

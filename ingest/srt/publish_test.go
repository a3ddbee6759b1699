package srt

import (
	"strings"
	"testing"
	"time"

	"diemcau/ingest"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

const testPassphrase = "correct-horse-battery"

// An encoder publishing MPEG-TS over SRT puts the source online and every
// frame it sends on the stream, in order, at the rate it was sent.
func TestEncoderPublishes(t *testing.T) {
	needFFmpeg(t)
	cases := []struct {
		name, url, streamID, passphrase string
		videoCodec, audioCodec          string // ffmpeg's; "" libx264 and aac
		wantVideo, wantAudio            pipeline.Codec
		audioPerSecond                  float64 // frames
		dropped                         string  // a track left out
	}{
		{name: "passphrase, access-control stream id", url: "srt://:" + testPassphrase + "@", streamID: "#!::r=ingest/cam,m=publish", passphrase: testPassphrase,
			wantVideo: pipeline.H264, wantAudio: pipeline.AAC, audioPerSecond: 48000.0 / 1024},
		{name: "anonymous, plain stream id", url: "srt://", streamID: "ingest/cam",
			wantVideo: pipeline.H264, wantAudio: pipeline.AAC, audioPerSecond: 48000.0 / 1024},
		{name: "H.265 and Opus", url: "srt://:" + testPassphrase + "@", streamID: "ingest/cam", passphrase: testPassphrase,
			videoCodec: "libx265", audioCodec: "libopus", wantVideo: pipeline.H265, wantAudio: pipeline.Opus, audioPerSecond: 50},
		{name: "MP2 audio left out, picture kept", url: "srt://:" + testPassphrase + "@", streamID: "ingest/cam", passphrase: testPassphrase,
			audioCodec: "mp2", wantVideo: pipeline.H264, dropped: "MPEG-1 audio (mp2)"},
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
				out, err = publish(t, publishOpts{addr: r.addr, streamID: tc.streamID, passphrase: tc.passphrase, seconds: seconds, fps: fps,
					videoCodec: tc.videoCodec, audioCodec: tc.audioCodec})
				done <- err
			}()
			testkit.Eventually(t, 5*time.Second, "source online", func() bool { return src.Status().State == ingest.StateOnline })
			st := src.Status()
			if st.SRT == nil || !st.SRT.Connected || st.SRT.Encrypted != (tc.passphrase != "") || st.Transport != "srt" {
				t.Errorf("status while publishing: srt %+v transport %q", st.SRT, st.Transport)
			}
			if err := <-done; err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			testkit.Eventually(t, 5*time.Second, "source offline after the encoder left", func() bool { return src.Status().State == ingest.StateOffline })
			video, audio := c.counts()
			wantAudio := int(seconds * tc.audioPerSecond)
			t.Logf("sent %d video frames, ~%d audio frames; received %d video, %d audio", seconds*fps, wantAudio, video, audio)
			c.checkVideo(t, seconds*fps, fps, 200*time.Millisecond)
			// The latency, and the PES the muxer was still filling.
			if tail := int(0.4*tc.audioPerSecond) + 3; audio < wantAudio-tail || audio > wantAudio+2 {
				t.Errorf("audio frames: got %d, want about %d", audio, wantAudio)
			}
			c.mu.Lock()
			tracks := c.tracks
			c.mu.Unlock()
			if len(tracks) == 0 || tracks[0].Codec != tc.wantVideo || tracks[0].Width != 320 || tracks[0].Height != 180 {
				t.Errorf("video track %+v", tracks)
			}
			if tc.wantAudio != "" && (len(tracks) != 2 || tracks[1].Codec != tc.wantAudio || tracks[1].SampleRate != 48000) {
				t.Errorf("audio track %+v", tracks)
			}
			if tc.wantAudio == "" && len(tracks) != 1 {
				t.Errorf("tracks %+v, want the picture only", tracks)
			}
			st = src.Status()
			if st.SRT == nil || st.SRT.Connected || st.SRT.PacketsReceived == 0 {
				t.Errorf("status after: srt %+v", st.SRT)
			}
			if !strings.Contains(st.Error, "encoder") {
				t.Errorf("offline reason %q", st.Error)
			}
			if tc.dropped != "" && (st.SRT == nil || len(st.SRT.DroppedTracks) != 1 || st.SRT.DroppedTracks[0] != tc.dropped) {
				t.Errorf("dropped tracks %+v, want %q", st.SRT, tc.dropped)
			}
		})
	}
}

package camsim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"diemcau/pipeline/gst"
)

// TestFFprobeReadsCameras: a peer we did not write sees H.264 320x180
// without B-frames, and the audio codec asked for.
func TestFFprobeReadsCameras(t *testing.T) {
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
	tests := []struct {
		name      string
		cfg       Config
		path      string
		userinfo  *url.Userinfo
		wantAudio string
		wantFail  bool
		wantSize  string // default 320x180
	}{
		{name: "video only", cfg: Config{Cameras: 2}, path: "cam2"},
		{name: "opus", cfg: Config{Cameras: 1, Audio: true}, path: "cam1", wantAudio: "opus"},
		{name: "aac", cfg: Config{Cameras: 1, Audio: true, AudioCodec: "aac"}, path: "cam1", wantAudio: "aac"},
		{name: "live", cfg: Config{Cameras: 1, Live: true, FPS: 15}, path: "cam1"},
		{name: "sub-stream", cfg: Config{Cameras: 2, SubWidth: 160, SubHeight: 90}, path: "cam2/sub", wantSize: "160x90"},
		{name: "main beside a sub-stream", cfg: Config{Cameras: 2, SubWidth: 160, SubHeight: 90, Audio: true}, path: "cam2", wantAudio: "opus"},
		{name: "with credentials", cfg: Config{Cameras: 1, User: "kythuat", Pass: "bí mật"}, path: "cam1", userinfo: url.UserPassword("kythuat", "bí mật")},
		{name: "wrong password", cfg: Config{Cameras: 1, User: "kythuat", Pass: "bí mật"}, path: "cam1", userinfo: url.UserPassword("kythuat", "sai"), wantFail: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Live {
				needElements(t, "textoverlay", "clockoverlay")
			}
			if tc.wantAudio == "aac" && !gst.HasElement("avenc_aac") && !gst.HasElement("fdkaacenc") {
				t.Skip("no AAC encoder installed")
			}
			s := startSim(t, tc.cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			u := url.URL{Scheme: "rtsp", Host: s.Addr(), Path: "/" + tc.path, User: tc.userinfo}
			out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-rtsp_transport", "tcp",
				"-show_entries", "stream=codec_type,codec_name,width,height,has_b_frames",
				"-of", "json", u.String()).Output()
			if tc.wantFail {
				if err == nil {
					t.Fatalf("ffprobe read the camera with a wrong password: %s", out)
				}
				return
			}
			if err != nil {
				t.Fatalf("ffprobe: %v", err)
			}
			var probe struct {
				Streams []struct {
					CodecType  string `json:"codec_type"`
					CodecName  string `json:"codec_name"`
					Width      int    `json:"width"`
					Height     int    `json:"height"`
					HasBFrames int    `json:"has_b_frames"`
				} `json:"streams"`
			}
			if err := json.Unmarshal(out, &probe); err != nil {
				t.Fatalf("ffprobe output %s: %v", out, err)
			}
			var video, audio string
			for _, st := range probe.Streams {
				switch st.CodecType {
				case "video":
					video = fmt.Sprintf("%s %dx%d b=%d", st.CodecName, st.Width, st.Height, st.HasBFrames)
				case "audio":
					audio = st.CodecName
				}
			}
			size := tc.wantSize
			if size == "" {
				size = "320x180"
			}
			if video != "h264 "+size+" b=0" {
				t.Errorf("video: %q, want h264 %s without B-frames", video, size)
			}
			if audio != tc.wantAudio {
				t.Errorf("audio: %q, want %q", audio, tc.wantAudio)
			}
		})
	}
}

// TestReplayIsContinuous reads past the end of the 2 s loop: the picture
// starts with an IDR, GOPs stay whole and RTP time advances one frame per
// access unit across the loop seam.
func TestReplayIsContinuous(t *testing.T) {
	s := startSim(t, Config{Cameras: 1, FPS: 30})
	r, err := dial(t, s.URL(1))
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	units := r.waitUnits(t, 80, 30*time.Second)
	// An idle camera restarts its picture at a GOP for the reader that wakes
	// it, so the first unit is an IDR; on a badly loaded machine the reader
	// may miss it and wait for the next one, never longer than a GOP.
	first := 0
	for !h264.IsRandomAccess(units[first].au) {
		first++
		if first == 60 {
			t.Fatal("no IDR in the first GOP")
		}
	}
	if first != 0 {
		t.Logf("first IDR at unit %d", first)
	}
	for i := 1; i < len(units); i++ {
		if d := units[i].timestamp - units[i-1].timestamp; d != 3000 {
			t.Fatalf("unit %d: RTP time advanced %d, want 3000 (30 fps)", i, d)
		}
		if want := (i-first)%60 == 0; i > first && h264.IsRandomAccess(units[i].au) != want {
			t.Fatalf("unit %d: IDR %v, want %v (GOP of 60)", i, !want, want)
		}
	}
}

// TestIdleCameraSendsNothing: only a watched camera sends.
func TestIdleCameraSendsNothing(t *testing.T) {
	s := startSim(t, Config{Cameras: 3})
	time.Sleep(200 * time.Millisecond)
	if p := s.Stats().Packets; p != 0 {
		t.Fatalf("%d packets sent with no reader", p)
	}
	r, err := dial(t, s.URL(2))
	if err != nil {
		t.Fatal(err)
	}
	r.waitUnits(t, 5, 20*time.Second)
	if st := s.Stats(); st.Readers != 1 || st.Packets == 0 {
		t.Errorf("stats with one reader: %+v", st)
	}
	if n := s.cams[0].packets.Load() + s.cams[2].packets.Load(); n != 0 {
		t.Errorf("unwatched cameras sent %d packets", n)
	}
	r.close()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Readers != 0 {
		if time.Now().After(deadline) {
			t.Fatal("reader still counted after it left")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDropAfter(t *testing.T) {
	s := startSim(t, Config{Cameras: 1, DropAfter: 1500 * time.Millisecond})
	r, err := dial(t, s.URL(1))
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	r.waitUnits(t, 5, 20*time.Second)
	waitErr := make(chan error, 1)
	go func() { waitErr <- r.client.Wait() }()
	select {
	case err := <-waitErr:
		if err == nil {
			t.Fatal("session ended without an error")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the camera did not close the session after --drop-after")
	}
	if _, err := dial(t, s.URL(1)); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a dropped camera answered %v, want 503", err)
	}
	// Clearing the fault brings the camera back.
	if err := s.SetFault(1, FaultNone); err != nil {
		t.Fatal(err)
	}
	r2, err := dial(t, s.URL(1))
	if err != nil {
		t.Fatalf("after restore: %v", err)
	}
	defer r2.close()
	r2.waitUnits(t, 3, 20*time.Second)
}

func TestStallAfter(t *testing.T) {
	s := startSim(t, Config{Cameras: 1, StallAfter: 1500 * time.Millisecond})
	r, err := dial(t, s.URL(1))
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	r.waitUnits(t, 5, 20*time.Second)
	// Packets stop while the session stays up.
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.mu.Lock()
		quiet := time.Since(r.lastAt)
		r.mu.Unlock()
		if quiet > time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("packets still flowing after --stall-after")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := s.Stats(); st.Readers != 1 {
		t.Fatalf("the stalled camera dropped its reader: %+v", st)
	}
	before, _ := r.snapshot()
	if err := s.SetFault(1, FaultNone); err != nil {
		t.Fatal(err)
	}
	r.waitUnits(t, len(before)+5, 20*time.Second)
}

func TestAuth(t *testing.T) {
	s := startSim(t, Config{Cameras: 1, User: "kythuat", Pass: "mật khẩu"})
	tests := []struct {
		name    string
		user    *url.Userinfo
		wantErr string
	}{
		{name: "no credentials", wantErr: "401"},
		{name: "wrong password", user: url.UserPassword("kythuat", "sai"), wantErr: "401"},
		{name: "right credentials", user: url.UserPassword("kythuat", "mật khẩu")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := url.URL{Scheme: "rtsp", Host: s.Addr(), Path: "/cam1", User: tc.user}
			r, err := dial(t, u.String())
			if tc.wantErr != "" {
				if err == nil {
					r.close()
					t.Fatal("read without the right credentials")
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.close()
			r.waitUnits(t, 3, 20*time.Second)
		})
	}
}

func TestUnknownPath(t *testing.T) {
	s := startSim(t, Config{Cameras: 2})
	_, err := dial(t, fmt.Sprintf("rtsp://%s/cam3", s.Addr()))
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("got %v, want 404", err)
	}
}

func TestLiveCamera(t *testing.T) {
	needElements(t, "textoverlay", "clockoverlay", "opusenc")
	s := startSim(t, Config{Cameras: 2, Live: true, FPS: 15, Audio: true})
	r, err := dial(t, s.URL(2))
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if !r.audio {
		t.Error("no Opus in the SDP of a live camera with audio")
	}
	// 2.5 GOPs: a reader joining a live camera mid-GOP still meets an IDR.
	units := r.waitUnits(t, 75, 30*time.Second)
	idrs := 0
	for i := range units {
		if i > 0 && units[i].timestamp-units[i-1].timestamp > 90000 {
			t.Fatalf("unit %d: RTP time jumped %d", i, units[i].timestamp-units[i-1].timestamp)
		}
		if h264.IsRandomAccess(units[i].au) {
			idrs++
		}
	}
	if idrs == 0 {
		t.Error("no IDR in 75 access units of a camera with a 2 s GOP")
	}
}

func TestSetFaultUnknownCamera(t *testing.T) {
	s, err := New(Config{Cameras: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetFault(3, FaultDrop); err == nil {
		t.Fatal("fault on camera 3 of 2 accepted")
	}
}

package gst

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

func TestMixLaunchNamesEveryControl(t *testing.T) {
	tests := []struct {
		name  string
		spec  MixSpec
		wants []string
	}{
		{"two points", MixSpec{Width: 320, Height: 180, FPS: 30, Points: 2}, []string{
			"compositor name=comp", "framerate=30/1", "label0", "label1", "slate0", "slate1",
			"funnel name=vin0 ! videoscale name=vscale0 ! capsfilter name=vcaps0", "vcaps1 caps=\"video/x-raw,format=I420,width=16,height=16,pixel-aspect-ratio=1/1\" caps-change-mode=delayed ! comp.sink_2", "comp.sink_3", "comp.sink_4",
			"funnel name=ain1 ! level name=lvl1 interval=100000000 post-messages=true ! volume name=vol1 ! tee name=at1", "appsink name=opusmm0", "appsink name=opusmm1",
			"at0. ! mm1.sink_%u", "at1. ! mm0.sink_%u", "at0. ! mixall.sink_%u", "silence. ! mm1.sink_%u",
			"Noto Sans", "clockoverlay",
		}},
		{"room for six", MixSpec{Width: 320, Height: 180, FPS: 30, Points: 2, Slots: 6}, []string{
			"label5", "tee name=at1", "opusmm1",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := mixLaunch(tc.spec)
			for _, w := range tc.wants {
				if !strings.Contains(l, w) {
					t.Errorf("launch lacks %q", w)
				}
			}
			// A point's own audio must never reach its mix-minus.
			if strings.Contains(l, "at0. ! mm0.") || strings.Contains(l, "at1. ! mm1.") {
				t.Error("point 0's audio feeds its own mix-minus")
			}
		})
	}
}

func TestMixSpecValidate(t *testing.T) {
	tests := []struct {
		name  string
		spec  MixSpec
		field string
	}{
		{"ok", MixSpec{Width: 320, Height: 180, FPS: 30, Points: 1}, ""},
		{"odd width", MixSpec{Width: 321, Height: 180, FPS: 30, Points: 1}, "width"},
		{"no height", MixSpec{Width: 320, FPS: 30, Points: 1}, "height"},
		{"fps", MixSpec{Width: 320, Height: 180, FPS: 0, Points: 1}, "fps"},
		{"no points", MixSpec{Width: 320, Height: 180, FPS: 30}, "points"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.field+":") {
				t.Fatalf("got %v, want an error naming %s", err, tc.field)
			}
		})
	}
}

func TestInputBranch(t *testing.T) {
	tests := []struct {
		name    string
		format  InputFormat
		want    string
		wantErr bool
	}{
		{"h264", InputFormat{Codec: pipeline.H264}, "h264parse ! avdec_h264", false},
		{"opus", InputFormat{Codec: pipeline.Opus, SampleRate: 48000, Channels: 2}, "opusdec", false},
		{"aac", InputFormat{Codec: pipeline.AAC, SampleRate: 48000, Channels: 2, Config: []byte{0x11, 0x90}}, "codec_data=(buffer)1190", false},
		{"pcmu", InputFormat{Codec: pipeline.PCMU, SampleRate: 8000, Channels: 1}, "audio/x-mulaw,rate=8000,channels=1", false},
		{"pcma", InputFormat{Codec: pipeline.PCMA, SampleRate: 8000, Channels: 1}, "alawdec", false},
		{"aac without config", InputFormat{Codec: pipeline.AAC}, "", true},
		{"unknown", InputFormat{Codec: "vp8"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inputBranch("x", tc.format, "avdec_h264")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("%q lacks %q", got, tc.want)
			}
		})
	}
}

// TestMixSmoke runs a two-point composite with one live input: encoded
// pictures and both kinds of audio mix come out, the fed point's pictures
// reach the compositor, the silent one's do not.
func TestMixSmoke(t *testing.T) {
	needElements(t, "x264enc", "compositor", "audiomixer", "opusenc", "textoverlay")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	loop := testLoop(t, ctx, true)

	var opus, aac, mm0 atomic.Int64
	mix := startMix(t, MixSpec{Width: 320, Height: 180, FPS: 30, Points: 2}, MixSinks{
		OpusAll: func(Sample) { opus.Add(1) },
		AACAll:  func(Sample) { aac.Add(1) },
		MixMinus: func(p int, _ Sample) {
			if p == 0 {
				mm0.Add(1)
			}
		},
	})
	for i := range 2 {
		mix.SetTile(i, MixTile{X: i * 160, Y: 0, W: 160, H: 90, Z: 10, Visible: true})
		mix.SetLabel(i, "Điểm cầu xã")
	}
	vf := InputFormatOf(loop.Video)
	af := InputFormatOf(loop.Audio)
	if err := mix.SetInput(0, pipeline.Video, vf); err != nil {
		t.Fatal(err)
	}
	if err := mix.SetInput(0, pipeline.Audio, af); err != nil {
		t.Fatal(err)
	}

	var x264 Choice
	for _, c := range Encoders() {
		if c.Name == "x264" {
			x264 = Choice{Name: c.Name, Element: c.Element}
		}
	}
	var encoded atomic.Int64
	enc, err := NewVideoEncoder(x264, EncoderParams{Width: 320, Height: 180, FPS: 30, BitrateKbps: 300},
		func(f *pipeline.Frame) { encoded.Add(1) }, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	run := testkit.Start(t, "encoder", enc.Run)
	var wg sync.WaitGroup
	wg.Add(1)
	mix.SetEncoder(enc)

	feedCtx, stopFeed := context.WithTimeout(ctx, 3*time.Second)
	defer stopFeed()
	go func() {
		defer wg.Done()
		feedLoop(feedCtx, mix, 0, loop)
	}()
	<-feedCtx.Done()
	pushed, dropped := mix.Input(0, pipeline.Video).Counts()
	t.Logf("point 0 video: pushed %d, dropped %d", pushed, dropped)
	age, n := mix.LastPicture(0)
	if n < 30 || age < 0 || age > time.Second {
		t.Errorf("point 0: %d pictures, last %v ago", n, age)
	}
	if _, n := mix.LastPicture(1); n != 0 {
		t.Errorf("point 1 without input: %d pictures", n)
	}
	if err := run.Stop(); err != nil {
		t.Errorf("encoder: %v", err)
	}
	wg.Wait()
	if n := encoded.Load(); n < 45 {
		t.Errorf("encoded %d pictures in 3 s, want about 90", n)
	}
	if n := opus.Load(); n < 75 {
		t.Errorf("opus mix: %d frames in 3 s, want about 150", n)
	}
	if n := mm0.Load(); n < 75 {
		t.Errorf("mix-minus 0: %d frames in 3 s, want about 150", n)
	}
	if aacEncoder(HasElement) != "" && aac.Load() < 50 {
		t.Errorf("aac mix: %d frames in 3 s, want about 140", aac.Load())
	}
	for _, ev := range mix.Poll() {
		if !ev.Warning {
			t.Errorf("bus: %+v", ev)
		}
	}
}

// feedLoop replays a test loop into point's inputs in real time, stamped on
// the mix's running time.
func feedLoop(ctx context.Context, mix *Mix, point int, l *Loop) {
	vf, af := InputFormatOf(l.Video).Key(), ""
	if l.Audio != nil {
		af = InputFormatOf(l.Audio).Key()
	}
	start := time.Now()
	base := mix.RunningTime()
	var vi, ai int64
	for ctx.Err() == nil {
		now := time.Since(start)
		for l.FramePTS(vi) <= now {
			f := l.VideoFrames[vi%int64(len(l.VideoFrames))]
			pts := base + l.FramePTS(vi)
			au, _ := h264.AnnexB(f.NALUs).Marshal()
			mix.Input(point, pipeline.Video).Push(vf, au, pts, pts, l.FrameDuration, f.Key)
			vi++
		}
		for l.Audio != nil && l.AudioPTS(ai) <= now {
			f := l.AudioFrames[ai%int64(len(l.AudioFrames))]
			pts := base + l.AudioPTS(ai)
			mix.Input(point, pipeline.Audio).Push(af, f.Payload, pts, pts, 20*time.Millisecond, true)
			ai++
		}
		time.Sleep(5 * time.Millisecond)
	}
}

package gst

import (
	"context"
	"strings"
	"testing"
	"time"

	"diemcau/internal/testkit"
)

func TestEncoderFragments(t *testing.T) {
	p := EncoderParams{Width: 1280, Height: 720, FPS: 25, BitrateKbps: 2500}
	want := map[string]string{
		"nvh264enc":    "cudaupload ! cudaconvert ! video/x-raw(memory:CUDAMemory),format=NV12 ! nvh264enc preset=low-latency-hq rc-mode=cbr zerolatency=true bframes=0 gop-size=50 bitrate=2500 ! " + h264Out,
		"vah264enc":    "vapostproc ! video/x-raw(memory:VAMemory),format=NV12 ! vah264enc rate-control=cbr b-frames=0 key-int-max=50 bitrate=2500 ! " + h264Out,
		"vaapih264enc": "vaapipostproc ! video/x-raw(memory:VASurface),format=NV12 ! vaapih264enc rate-control=cbr max-bframes=0 keyframe-period=50 bitrate=2500 ! " + h264Out,
		"qsvh264enc":   "videoconvert ! video/x-raw,format=NV12 ! qsvh264enc rate-control=cbr b-frames=0 gop-size=50 bitrate=2500 ! " + h264Out,
		"v4l2h264enc":  `videoconvert ! video/x-raw,format=I420 ! v4l2h264enc extra-controls="controls,video_bitrate=2500000,h264_i_frame_period=50" ! video/x-h264,level=(string)4 ! ` + h264Out,
		"x264enc":      "videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=ultrafast tune=zerolatency bframes=0 key-int-max=50 bitrate=2500 ! " + h264Out,
		"openh264enc":  "videoconvert ! video/x-raw,format=I420 ! openh264enc complexity=low rate-control=bitrate gop-size=50 bitrate=2500000 ! " + h264Out,
	}
	var order []string
	for _, c := range Encoders() {
		order = append(order, c.Element)
		if got := c.EncoderFragment(p); got != want[c.Element] {
			t.Errorf("%s:\n got %s\nwant %s", c.Element, got, want[c.Element])
		}
		if c.DecoderFragment() != "" {
			t.Errorf("%s: an encoder with a decoder fragment", c.Element)
		}
		if c.Hardware == (c.Element == "x264enc" || c.Element == "openh264enc") {
			t.Errorf("%s: hardware %v", c.Element, c.Hardware)
		}
	}
	if got := strings.Join(order, ","); got != "nvh264enc,vah264enc,vaapih264enc,qsvh264enc,v4l2h264enc,x264enc,openh264enc" {
		t.Errorf("preference order %s", got)
	}
}

func TestDecoderFragments(t *testing.T) {
	want := map[string]string{
		"nvh264dec":    "nvh264dec ! video/x-raw(memory:CUDAMemory) ! cudadownload ! video/x-raw",
		"vah264dec":    "vah264dec ! video/x-raw(memory:VAMemory) ! vapostproc ! video/x-raw",
		"vaapih264dec": "vaapih264dec ! video/x-raw(memory:VASurface) ! vaapipostproc ! video/x-raw",
		"qsvh264dec":   "qsvh264dec ! videoconvert ! video/x-raw",
		"v4l2h264dec":  "v4l2h264dec ! videoconvert ! video/x-raw",
		"avdec_h264":   "avdec_h264",
		"openh264dec":  "openh264dec",
	}
	var auto []string
	for _, c := range Decoders() {
		if got := c.DecoderFragment(); got != want[c.Element] {
			t.Errorf("%s: got %q, want %q", c.Element, got, want[c.Element])
		}
		if c.Auto {
			auto = append(auto, c.Element)
		}
	}
	if got := strings.Join(auto, ","); got != "nvh264dec,vah264dec,vaapih264dec,v4l2h264dec,avdec_h264" {
		t.Errorf("auto order %s", got)
	}
}

func TestEncoderParamsDefaults(t *testing.T) {
	got := EncoderParams{}.withDefaults()
	if got.FPS != 30 || got.BitrateKbps != 2000 || got.KeyInt != 60 {
		t.Fatalf("defaults %+v", got)
	}
}

// TestRealRegistry runs the real trials on this machine: whatever it has,
// auto must find a working encoder and decoder.
func TestRealRegistry(t *testing.T) {
	needElements(t, "x264enc", "avdec_h264")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := NewRegistry(testkit.Logger(t))
	enc, err := SelectEncoder(ctx, reg, "auto", EncoderParams{Width: 320, Height: 180, FPS: 30, BitrateKbps: 500}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := SelectDecoder(ctx, reg, "auto", testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("encoder %s (hardware %v), decoder %s (hardware %v)", enc.Element, enc.Hardware, dec.Element, dec.Hardware)
	if err := reg.TryEncode(ctx, "videoconvert ! x264enc bitrate=nonsense", EncoderParams{}); err == nil {
		t.Error("a broken fragment passed its trial")
	}
	if _, err := SelectEncoder(ctx, reg, "openh264", EncoderParams{FPS: 30}, nil); err != nil && HasElement("openh264enc") {
		t.Errorf("forced openh264: %v", err)
	}
}

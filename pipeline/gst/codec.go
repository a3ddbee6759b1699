package gst

import (
	"fmt"
	"strings"
)

// EncoderParams are what an encoder fragment is built for.
type EncoderParams struct {
	Width, Height int
	FPS           int
	BitrateKbps   int
	// KeyInt is the distance between IDRs in frames. Default 2*FPS.
	KeyInt int
	// InWidth and InHeight are the raw pictures' size when it differs
	// from the encoded one (a lower rendition scales the composite's
	// pictures first); 0: the same.
	InWidth, InHeight int
}

// Rendition is one of a composite's encodings of the same pictures.
type Rendition int

const (
	Main Rendition = iota // the configured output
	Low                   // a smaller, cheaper one for viewers on thin links
	renditions
)

func (p EncoderParams) withDefaults() EncoderParams {
	if p.FPS <= 0 {
		p.FPS = 30
	}
	if p.BitrateKbps <= 0 {
		p.BitrateKbps = 2000
	}
	if p.KeyInt <= 0 {
		p.KeyInt = 2 * p.FPS
	}
	return p
}

// Candidate is one H.264 encoder or decoder element and how to place it in
// a pipeline.
type Candidate struct {
	// Name is the config name that forces it (pipeline.encoder: nvh264).
	Name string
	// Element is the GStreamer factory name.
	Element string
	// Hardware is true for GPU/VPU codecs.
	Hardware bool
	// Auto is false for candidates tried only when forced by name.
	Auto bool

	encode func(EncoderParams) string
	decode string
}

// h264Out normalises every encoder's output: Annex-B access units with
// SPS/PPS repeated before each IDR, so a reader can join at any keyframe.
const h264Out = "h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au"

// Encoders lists the H.264 encoders in the order auto tries them (docs/architecture.md
// rule 6). Each fragment takes raw video in system memory, uploads it where
// the element needs its own memory, and ends in h264Out.
func Encoders() []Candidate {
	return []Candidate{
		{Name: "nvh264", Element: "nvh264enc", Hardware: true, Auto: true, encode: func(p EncoderParams) string {
			return fmt.Sprintf("cudaupload ! cudaconvert ! video/x-raw(memory:CUDAMemory),format=NV12 ! "+
				"nvh264enc preset=low-latency-hq rc-mode=cbr zerolatency=true bframes=0 gop-size=%d bitrate=%d", p.KeyInt, p.BitrateKbps)
		}},
		{Name: "va", Element: "vah264enc", Hardware: true, Auto: true, encode: func(p EncoderParams) string {
			return fmt.Sprintf("vapostproc ! video/x-raw(memory:VAMemory),format=NV12 ! "+
				"vah264enc rate-control=cbr b-frames=0 key-int-max=%d bitrate=%d", p.KeyInt, p.BitrateKbps)
		}},
		{Name: "vaapi", Element: "vaapih264enc", Hardware: true, Auto: true, encode: func(p EncoderParams) string {
			return fmt.Sprintf("vaapipostproc ! video/x-raw(memory:VASurface),format=NV12 ! "+
				"vaapih264enc rate-control=cbr max-bframes=0 keyframe-period=%d bitrate=%d", p.KeyInt, p.BitrateKbps)
		}},
		{Name: "qsv", Element: "qsvh264enc", Hardware: true, Auto: true, encode: func(p EncoderParams) string {
			return fmt.Sprintf("videoconvert ! video/x-raw,format=NV12 ! "+
				"qsvh264enc rate-control=cbr b-frames=0 gop-size=%d bitrate=%d", p.KeyInt, p.BitrateKbps)
		}},
		{Name: "v4l2", Element: "v4l2h264enc", Hardware: true, Auto: true, encode: func(p EncoderParams) string {
			// Stateful V4L2 encoders take their settings as controls and
			// want a level in the output caps to start at all.
			return fmt.Sprintf("videoconvert ! video/x-raw,format=I420 ! "+
				`v4l2h264enc extra-controls="controls,video_bitrate=%d,h264_i_frame_period=%d" ! video/x-h264,level=(string)4`,
				p.BitrateKbps*1000, p.KeyInt)
		}},
		{Name: "x264", Element: "x264enc", Auto: true, encode: func(p EncoderParams) string {
			return fmt.Sprintf("videoconvert ! video/x-raw,format=I420 ! "+
				"x264enc speed-preset=ultrafast tune=zerolatency bframes=0 key-int-max=%d bitrate=%d", p.KeyInt, p.BitrateKbps)
		}},
		{Name: "openh264", Element: "openh264enc", Auto: true, encode: func(p EncoderParams) string {
			return fmt.Sprintf("videoconvert ! video/x-raw,format=I420 ! "+
				"openh264enc complexity=low rate-control=bitrate gop-size=%d bitrate=%d", p.KeyInt, p.BitrateKbps*1000)
		}},
	}
}

// Decoders lists the H.264 decoders in the order auto tries them. Each
// fragment takes H.264 from h264parse and gives raw video in system memory.
// qsv and openh264 are tried only when forced.
func Decoders() []Candidate {
	return []Candidate{
		{Name: "nvh264", Element: "nvh264dec", Hardware: true, Auto: true,
			decode: "nvh264dec ! video/x-raw(memory:CUDAMemory) ! cudadownload ! video/x-raw"},
		{Name: "va", Element: "vah264dec", Hardware: true, Auto: true,
			decode: "vah264dec ! video/x-raw(memory:VAMemory) ! vapostproc ! video/x-raw"},
		{Name: "vaapi", Element: "vaapih264dec", Hardware: true, Auto: true,
			decode: "vaapih264dec ! video/x-raw(memory:VASurface) ! vaapipostproc ! video/x-raw"},
		{Name: "qsv", Element: "qsvh264dec", Hardware: true,
			decode: "qsvh264dec ! videoconvert ! video/x-raw"},
		{Name: "v4l2", Element: "v4l2h264dec", Hardware: true, Auto: true,
			decode: "v4l2h264dec ! videoconvert ! video/x-raw"},
		{Name: "avdec", Element: "avdec_h264", Auto: true,
			decode: "avdec_h264"},
		{Name: "openh264", Element: "openh264dec",
			decode: "openh264dec"},
	}
}

// EncoderFragment is the candidate's launch fragment for p: raw video in,
// h264Out out. Empty for a decoder.
func (c Candidate) EncoderFragment(p EncoderParams) string {
	if c.encode == nil {
		return ""
	}
	return c.encode(p.withDefaults()) + " ! " + h264Out
}

// DecoderFragment is the candidate's launch fragment: parsed H.264 in, raw
// video in system memory out. Empty for an encoder.
func (c Candidate) DecoderFragment() string { return c.decode }

// lookupForced finds the candidate a config name (or element name) forces.
func lookupForced(list []Candidate, name string, decoder bool) (Candidate, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	if decoder {
		// One word means "software" for both settings: pipeline.decoder: x264.
		switch name {
		case "x264", "software", "libav":
			name = "avdec"
		}
	}
	for _, c := range list {
		if c.Name == name || c.Element == name {
			return c, true
		}
	}
	return Candidate{}, false
}

// names lists the config names accepted for a list, for error messages.
func names(list []Candidate) string {
	out := []string{"auto"}
	for _, c := range list {
		out = append(out, c.Name)
	}
	return strings.Join(out, " | ")
}

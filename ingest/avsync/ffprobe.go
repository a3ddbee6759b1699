package avsync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// rtspTimeout is ffmpeg's socket timeout on RTSP, in microseconds: an
// unreachable camera is reported instead of waited on.
const rtspTimeout = "10000000"

// inputArgs are the options before -i for the input's kind.
func inputArgs(kind string) []string {
	if kind == KindRTSP {
		return []string{"-rtsp_transport", "tcp", "-timeout", rtspTimeout}
	}
	return nil
}

// ffprobeStream is the part of ffprobe's stream description we use.
type ffprobeStream struct {
	CodecType    string `json:"codec_type"`
	CodecName    string `json:"codec_name"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	AvgFrameRate string `json:"avg_frame_rate"`
	RFrameRate   string `json:"r_frame_rate"`
	SampleRate   string `json:"sample_rate"`
	Channels     int    `json:"channels"`
}

// probeStreams asks ffprobe what the input carries: its first video and
// first audio stream, as declared. An input it cannot open is ErrOpen.
func probeStreams(ctx context.Context, ffprobe, input, kind string) (Declared, error) {
	args := append([]string{"-v", "error"}, inputArgs(kind)...)
	args = append(args, "-show_entries",
		"stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate,sample_rate,channels",
		"-of", "json", "-i", input)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, ffprobe, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(lastLines(stderr.String(), 3))
		if msg == "" {
			msg = err.Error()
		}
		return Declared{}, fmt.Errorf("%w: %s", ErrOpen, msg)
	}
	var out struct {
		Streams []ffprobeStream `json:"streams"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return Declared{}, fmt.Errorf("%w: ffprobe output: %v", ErrOpen, err)
	}
	return declaredOf(out.Streams), nil
}

func declaredOf(streams []ffprobeStream) Declared {
	var d Declared
	for _, s := range streams {
		switch {
		case s.CodecType == "video" && d.VideoCodec == "":
			d.VideoCodec, d.Width, d.Height = s.CodecName, s.Width, s.Height
			if d.FPS = rate(s.AvgFrameRate); d.FPS == 0 {
				d.FPS = rate(s.RFrameRate)
			}
		case s.CodecType == "audio" && d.AudioCodec == "":
			d.AudioCodec, d.Channels = s.CodecName, s.Channels
			d.SampleRate, _ = strconv.Atoi(s.SampleRate)
		}
	}
	return d
}

// rate reads ffprobe's "30/1" or "30000/1001"; 0 for "0/0" or nonsense.
func rate(s string) float64 {
	n, d, ok := strings.Cut(s, "/")
	num, err1 := strconv.ParseFloat(n, 64)
	den, err2 := strconv.ParseFloat(d, 64)
	if !ok || err1 != nil || err2 != nil || den == 0 || num <= 0 || num/den > 1000 {
		return 0
	}
	return num / den
}

// lastLines is the last n non-empty lines of s.
func lastLines(s string, n int) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			keep = append(keep, l)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, "; ")
}

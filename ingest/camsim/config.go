// Package camsim simulates IP cameras: an RTSP server with paths /cam1 …
// /camN serving H.264 (no B-frames) and optional audio. The default mode
// replays one pre-encoded loop, packetised once and re-stamped per camera,
// so dozens of cameras cost little; Live encodes each camera in real time
// with its name and a clock burnt in. Faults (drop, stall) and credentials
// can be injected for tests of the ingest side. Pattern PatternAVSync
// replays the lip-sync pattern instead (a white flash and a beep at the
// start of every second, each camera its own tone; see PatternToneHz),
// which `diemcau probe --av` measures.
package camsim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"diemcau/pipeline/gst"
)

// Defaults of Config.
const (
	DefaultListen      = ":8555" // beside diemcau serve's :8554
	DefaultCameras     = 4
	DefaultWidth       = 1280
	DefaultHeight      = 720
	DefaultFPS         = 30
	DefaultBitrateKbps = 2000
	DefaultMTU         = 1200
	maxCameras         = 1000
)

// Config configures a camsim server. Zero fields take the defaults above.
type Config struct {
	// Listen is the RTSP (TCP) address. Default DefaultListen; use
	// "127.0.0.1:0" in tests and read Addr after Ready.
	Listen string
	// UDPRTPAddress and UDPRTCPAddress, both set, also offer the UDP
	// transport. Default: TCP only.
	UDPRTPAddress, UDPRTCPAddress string
	// Cameras is the number of paths /cam1 … /camN. Default DefaultCameras.
	Cameras int
	// Width, Height, FPS and BitrateKbps of the H.264 video.
	Width, Height, FPS, BitrateKbps int
	// SubWidth and SubHeight, both set, give every camera a sub-stream at
	// /camN/sub: a second replayed loop at that size (a third of the
	// bitrate, no audio), as IP cameras offer for small tiles. Replayed
	// loops only.
	SubWidth, SubHeight int
	// Audio adds a sine tone.
	Audio bool
	// AudioCodec is opus (default) or aac.
	AudioCodec string
	// Pattern is "" (the moving test picture and a steady tone) or
	// PatternAVSync: a white flash and a beep at the start of every second,
	// each camera with its own tone (PatternToneHz). It turns audio on and
	// needs the replayed loop (not Live).
	Pattern string
	// Live encodes every camera in real time with its name and the wall
	// clock burnt in, instead of replaying one loop.
	Live bool
	// LoopSeconds is the length of the replayed loop. Default 2.
	LoopSeconds int
	// MTU bounds RTP packets (payload + 12-byte header). Default DefaultMTU.
	MTU int
	// DropAfter, when set, makes every camera close its sessions and refuse
	// new ones that long after Run starts (a camera that went away).
	DropAfter time.Duration
	// StallAfter, when set, makes every camera stop sending packets that long
	// after Run starts while keeping its connections (a frozen encoder).
	StallAfter time.Duration
	// User and Pass, when set, are required of readers (Basic and Digest).
	User, Pass string
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	switch {
	case c.Cameras < 0 || c.Cameras > maxCameras:
		return fmt.Errorf("cameras: %d, want 1..%d", c.Cameras, maxCameras)
	case c.Width < 0 || c.Width%2 != 0:
		return fmt.Errorf("size: width %d, want a positive even number", c.Width)
	case c.Height < 0 || c.Height%2 != 0:
		return fmt.Errorf("size: height %d, want a positive even number", c.Height)
	case c.FPS < 0 || c.FPS > 120:
		return fmt.Errorf("fps: %d, want 1..120", c.FPS)
	case c.BitrateKbps < 0:
		return fmt.Errorf("bitrate: %d kbps, want > 0", c.BitrateKbps)
	case c.AudioCodec != "" && c.AudioCodec != string(gst.AudioOpus) && c.AudioCodec != string(gst.AudioAAC):
		return fmt.Errorf("audio_codec: %q, want opus or aac", c.AudioCodec)
	case c.Pattern != "" && c.Pattern != PatternAVSync:
		return fmt.Errorf("pattern: %q, want %s or nothing", c.Pattern, PatternAVSync)
	case c.Pattern != "" && c.Live:
		return fmt.Errorf("pattern: %s is replayed from the pre-encoded loop; drop --live", c.Pattern)
	case c.SubWidth < 0 || c.SubHeight < 0 || c.SubWidth%2 != 0 || c.SubHeight%2 != 0 || (c.SubWidth > 0) != (c.SubHeight > 0):
		return fmt.Errorf("sub_size: %dx%d, want even sizes (or none)", c.SubWidth, c.SubHeight)
	case c.SubWidth > 0 && (c.Live || c.Pattern != ""):
		return errors.New("sub_size: sub-streams are replayed from a plain loop; drop --live and --pattern")
	case c.LoopSeconds < 0:
		return fmt.Errorf("loop_seconds: %d, want >= 0", c.LoopSeconds)
	case c.MTU != 0 && (c.MTU < 200 || c.MTU > 1472):
		return fmt.Errorf("mtu: %d, want 200..1472", c.MTU)
	case c.DropAfter < 0:
		return fmt.Errorf("drop_after: %v, want >= 0", c.DropAfter)
	case c.StallAfter < 0:
		return fmt.Errorf("stall_after: %v, want >= 0", c.StallAfter)
	case (c.UDPRTPAddress == "") != (c.UDPRTCPAddress == ""):
		return errors.New("udp_rtcp_address: set both UDP addresses or neither")
	case c.User == "" && c.Pass != "":
		return errors.New("user: a password without a user")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Cameras == 0 {
		c.Cameras = DefaultCameras
	}
	if c.Width == 0 {
		c.Width = DefaultWidth
	}
	if c.Height == 0 {
		c.Height = DefaultHeight
	}
	if c.FPS == 0 {
		c.FPS = DefaultFPS
	}
	if c.BitrateKbps == 0 {
		c.BitrateKbps = DefaultBitrateKbps
	}
	if c.AudioCodec == "" {
		c.AudioCodec = string(gst.AudioOpus)
	}
	if c.LoopSeconds == 0 {
		c.LoopSeconds = 2
	}
	if c.Pattern != "" {
		c.Audio = true
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	return c
}

// ParseSize reads "WxH", e.g. "1280x720".
func ParseSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "x")
	if ok {
		w, err = strconv.Atoi(ws)
		if err == nil {
			h, err = strconv.Atoi(hs)
		}
	}
	if !ok || err != nil || w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("size %q: want WIDTHxHEIGHT, e.g. 1280x720", s)
	}
	return w, h, nil
}

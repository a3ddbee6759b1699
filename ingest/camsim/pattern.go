package camsim

import (
	"context"
	"fmt"

	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// PatternAVSync is Config.Pattern's lip-sync pattern (see pipeline.PatternAVSync).
const PatternAVSync = pipeline.PatternAVSync

// patternTones is how many distinct beeps the cameras have; camera
// PatternTones+1 sounds like camera 1 again. Each tone is one more loop to
// encode at start, so the count is bounded.
const patternTones = 16

// PatternToneHz is the beep of camera i (1-based) under the avsync pattern:
// 1000 Hz for cam1 (the line-up tone), then 100 Hz higher per camera up to
// 2500 Hz, so points can be told apart in a mix. Whole tens of hertz make
// the 100 ms beep whole cycles.
func PatternToneHz(i int) float64 {
	return float64(1000 + 100*((max(i, 1)-1)%patternTones))
}

// encodeTones encodes the other cameras' beeps beside the loop's own
// (cam1's) and adds them to pl.
func (s *Sim) encodeTones(ctx context.Context, lc gst.LoopConfig, pl *PacketLoop) error {
	pl.tones = []*LoopTrack{pl.Audio}
	for i := 2; i <= min(len(s.cams), patternTones); i++ {
		lc.AudioFreq = PatternToneHz(i)
		l, err := gst.EncodeToneLoop(ctx, lc, s.log)
		if err != nil {
			return fmt.Errorf("camsim: tone of cam%d: %w", i, err)
		}
		t, err := newAudioLoopTrack(l, s.cfg.MTU-rtpHeaderSize)
		if err != nil {
			return err
		}
		pl.tones = append(pl.tones, t)
	}
	return nil
}

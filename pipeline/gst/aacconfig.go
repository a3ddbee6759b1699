package gst

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"
)

// An AAC track's AudioSpecificConfig depends on the encoder: avenc_aac
// appends an explicit "no SBR" sync extension (11 90 56 e5 00 at 48 kHz
// stereo) that a plain AAC-LC config (11 90) lacks. The mix's archive track
// is published before the encoder's first frame, so that the recorder can
// open a segment at the first picture; when the config published was a
// guess and the encoder's first frame said otherwise, the track changed
// under the open segment and its sound was skipped (seen on a loaded
// machine, where the first picture came before the first sound). So the
// mix asks the encoder once per process, by encoding a little silence.

// aacProbeTimeout bounds the probe pipeline's start and its first frame.
const aacProbeTimeout = 5 * time.Second

type aacConfigResult struct {
	asc []byte
	err error
}

var (
	aacConfigMu sync.Mutex
	aacConfigs  = map[string]aacConfigResult{}
)

// MixAACConfig is the AudioSpecificConfig of the archive mix's AAC, as the
// encoder a MixSpec with default AAC settings uses writes it. The answer is
// kept for the life of the process; the caller must not modify it.
func MixAACConfig() ([]byte, error) {
	s := MixSpec{}.withDefaults()
	return aacConfigOf(s.AACEncoder, s.AACBitrate)
}

func aacConfigOf(encoder string, bitrate int) ([]byte, error) {
	if encoder == "" {
		return nil, errors.New("aac config: no AAC encoder installed")
	}
	key := fmt.Sprintf("%s/%d", encoder, bitrate)
	aacConfigMu.Lock()
	defer aacConfigMu.Unlock()
	if r, ok := aacConfigs[key]; ok {
		return r.asc, r.err
	}
	asc, err := probeAACConfig(encoder, bitrate)
	aacConfigs[key] = aacConfigResult{asc, err}
	return asc, err
}

// probeAACConfig encodes a few frames of silence with the mix's AAC chain
// and reads the config from the caps of the first.
func probeAACConfig(encoder string, bitrate int) ([]byte, error) {
	Init()
	launch := fmt.Sprintf("audiotestsrc num-buffers=4 wave=silence samplesperbuffer=1024 ! %s ! audioconvert"+
		" ! %s bitrate=%d ! aacparse ! audio/mpeg,mpegversion=4,stream-format=raw ! appsink name=out sync=false",
		MixAudioCaps, encoder, bitrate)
	p, err := gst.NewPipelineFromString(launch)
	if err != nil {
		return nil, fmt.Errorf("aac config of %s: parse: %w", encoder, err)
	}
	defer func() { _ = changeState(p.Element, gst.StateNull, aacProbeTimeout) }()
	el, err := p.GetElementByName("out")
	if err != nil || el == nil {
		return nil, fmt.Errorf("aac config of %s: appsink missing", encoder)
	}
	if err := changeState(p.Element, gst.StatePlaying, aacProbeTimeout); err != nil {
		return nil, fmt.Errorf("aac config of %s: start: %w", encoder, busError(p.GetPipelineBus(), err))
	}
	s := app.SinkFromElement(el).TryPullSample(gst.ClockTime(aacProbeTimeout))
	if s == nil {
		return nil, fmt.Errorf("aac config of %s: no frame in %v", encoder, aacProbeTimeout)
	}
	caps := s.GetCaps()
	if caps == nil {
		return nil, fmt.Errorf("aac config of %s: frame without caps", encoder)
	}
	asc, _, _, err := aacCaps(caps.String())
	if err != nil {
		return nil, fmt.Errorf("aac config of %s: %w", encoder, err)
	}
	return asc, nil
}

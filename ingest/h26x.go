package ingest

import (
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"diemcau/pipeline"
	"diemcau/pipeline/h26x"
)

// maxPlausibleFPS bounds the frame rate read from an SPS: some cameras write
// timing info that is off by orders of magnitude, and a wrong figure shown to
// a technician is worse than none (the tracker measures the real rate).
const maxPlausibleFPS = 240

// h264Track builds a video track from H.264 parameter sets. A missing or
// unreadable SPS gives a track without size, which is replaced once the
// camera sends a usable one in-band.
func h264Track(sps, pps []byte) (*pipeline.Track, error) {
	t := &pipeline.Track{Codec: pipeline.H264, SPS: sps, PPS: pps}
	if len(sps) == 0 {
		return t, nil
	}
	var p h264.SPS
	if err := p.Unmarshal(sps); err != nil {
		return t, fmt.Errorf("invalid H.264 SPS: %w", err)
	}
	t.Width, t.Height = p.Width(), p.Height()
	t.Profile = h26x.H264Profile(sps)
	t.FPS = plausibleFPS(p.FPS())
	return t, nil
}

// h265Track builds a video track from H.265 parameter sets.
func h265Track(vps, sps, pps []byte) (*pipeline.Track, error) {
	t := &pipeline.Track{Codec: pipeline.H265, VPS: vps, SPS: sps, PPS: pps}
	if len(sps) == 0 {
		return t, nil
	}
	var p h265.SPS
	if err := p.Unmarshal(sps); err != nil {
		return t, fmt.Errorf("invalid H.265 SPS: %w", err)
	}
	t.Width, t.Height = p.Width(), p.Height()
	t.Profile = h26x.H265ProfileName(p.ProfileTierLevel.GeneralProfileIdc)
	t.FPS = plausibleFPS(p.FPS())
	return t, nil
}

func plausibleFPS(f float64) float64 {
	if f <= 0 || f > maxPlausibleFPS {
		return 0
	}
	return float64(int64(f*100+0.5)) / 100
}

package ingest

import (
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"diemcau/pipeline"
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
	t.Profile = pipeline.H264Profile(sps)
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
	t.Profile = h265ProfileName(p.ProfileTierLevel.GeneralProfileIdc)
	t.FPS = plausibleFPS(p.FPS())
	return t, nil
}

func plausibleFPS(f float64) float64 {
	if f <= 0 || f > maxPlausibleFPS {
		return 0
	}
	return float64(int64(f*100+0.5)) / 100
}

func h265ProfileName(idc uint8) string {
	switch idc {
	case 1:
		return "main"
	case 2:
		return "main-10"
	case 3:
		return "main-still-picture"
	case 4:
		return "rext"
	}
	return fmt.Sprintf("profile-%d", idc)
}

// h264NALUType and h265NALUType read the type from a NAL unit header.
func h264NALUType(nalu []byte) h264.NALUType { return h264.NALUType(nalu[0] & 0x1F) }
func h265NALUType(nalu []byte) h265.NALUType { return h265.NALUType((nalu[0] >> 1) & 0x3F) }

// h265IsIRAP reports an intra random access point (BLA, IDR, CRA): a picture
// a decoder can start from.
func h265IsIRAP(t h265.NALUType) bool {
	return t >= h265.NALUType_BLA_W_LP && t <= h265.NALUType_CRA_NUT
}

// InBand is what an access unit carried besides its pictures: parameter
// sets (nil when absent) and whether a decoder can start at it.
type InBand struct {
	VPS, SPS, PPS []byte // VPS: H.265 only
	Key           bool
}

// SplitH264 takes the parameter sets and delimiters out of an H.264
// access unit, in place (no allocation): sources put the current
// parameter sets back in front of every keyframe themselves, so whether a
// camera sends them in-band or only in its SDP, every keyframe can start
// a decoder. Key is an IDR picture.
func SplitH264(au [][]byte) ([][]byte, InBand) {
	var in InBand
	n := 0
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		switch h264NALUType(nalu) {
		case h264.NALUTypeSPS:
			in.SPS = nalu
			continue
		case h264.NALUTypePPS:
			in.PPS = nalu
			continue
		case h264.NALUTypeAccessUnitDelimiter:
			continue
		case h264.NALUTypeIDR:
			in.Key = true
		}
		au[n] = nalu
		n++
	}
	return au[:n], in
}

// SplitH265 is SplitH264 for H.265; Key is an IRAP picture.
func SplitH265(au [][]byte) ([][]byte, InBand) {
	var in InBand
	n := 0
	for _, nalu := range au {
		if len(nalu) < 2 {
			continue
		}
		switch typ := h265NALUType(nalu); typ {
		case h265.NALUType_VPS_NUT:
			in.VPS = nalu
			continue
		case h265.NALUType_SPS_NUT:
			in.SPS = nalu
			continue
		case h265.NALUType_PPS_NUT:
			in.PPS = nalu
			continue
		case h265.NALUType_AUD_NUT:
			continue
		default:
			in.Key = in.Key || h265IsIRAP(typ)
		}
		au[n] = nalu
		n++
	}
	return au[:n], in
}

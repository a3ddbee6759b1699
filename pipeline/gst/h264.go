package gst

import (
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"diemcau/pipeline"
	"diemcau/pipeline/h26x"
)

// accessUnit is one encoded H.264 picture split into NAL units.
type accessUnit struct {
	nalus    [][]byte
	sps, pps []byte // set when the AU carries them
	idr      bool
}

// splitAU splits an Annex-B access unit (h264Out) into NAL units without
// start codes. Access unit delimiters are dropped: RTP and MP4 do not carry
// them.
func splitAU(data []byte) (accessUnit, error) {
	var annexb h264.AnnexB
	if err := annexb.Unmarshal(data); err != nil {
		return accessUnit{}, fmt.Errorf("annex-b: %w", err)
	}
	au := accessUnit{nalus: make([][]byte, 0, len(annexb))}
	for _, n := range annexb {
		if len(n) == 0 {
			continue
		}
		switch h26x.Type(pipeline.H264, n) {
		case h26x.H264AUD:
			continue
		case h26x.H264SPS:
			au.sps = n
		case h26x.H264PPS:
			au.pps = n
		case h26x.H264IDR:
			au.idr = true
		}
		au.nalus = append(au.nalus, n)
	}
	if len(au.nalus) == 0 {
		return accessUnit{}, errors.New("access unit without NAL units")
	}
	return au, nil
}

// videoTrack describes an H.264 stream from its parameter sets.
func videoTrack(sps, pps []byte, fps int) (*pipeline.Track, error) {
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return nil, fmt.Errorf("sps: %w", err)
	}
	return &pipeline.Track{
		Codec:   pipeline.H264,
		SPS:     sps,
		PPS:     pps,
		Width:   s.Width(),
		Height:  s.Height(),
		Profile: h26x.H264Profile(sps),
		FPS:     float64(fps),
	}, nil
}

package testclip

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// AccessUnits cuts an Annex-B stream into access units at its access unit
// delimiters (Encode has ffmpeg insert one before each); the delimiters
// are dropped.
func AccessUnits(raw []byte, hevc bool) ([][][]byte, error) {
	var nalus h264.AnnexB
	if err := nalus.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("annex-b: %w", err)
	}
	var aus [][][]byte
	var cur [][]byte
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		if isAUD(n, hevc) {
			if len(cur) > 0 {
				aus = append(aus, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, n)
	}
	if len(cur) > 0 {
		aus = append(aus, cur)
	}
	return aus, nil
}

func isAUD(n []byte, hevc bool) bool {
	if hevc {
		return h265.NALUType((n[0]>>1)&0x3f) == h265.NALUType_AUD_NUT
	}
	return h264.NALUType(n[0]&0x1f) == h264.NALUTypeAccessUnitDelimiter
}

// IsKey tells whether an access unit is a random access point (an IDR
// picture; for H.265 any IRAP).
func IsKey(au [][]byte, hevc bool) bool {
	if hevc {
		return h265.IsRandomAccess(au)
	}
	return h264.IsRandomAccess(au)
}

// ParamSets returns the parameter sets in an access unit, nil where absent.
func ParamSets(au [][]byte, hevc bool) (vps, sps, pps []byte) {
	for _, n := range au {
		switch paramSet(n, hevc) {
		case 'v':
			vps = n
		case 's':
			sps = n
		case 'p':
			pps = n
		}
	}
	return vps, sps, pps
}

func paramSet(n []byte, hevc bool) byte {
	if hevc {
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_VPS_NUT:
			return 'v'
		case h265.NALUType_SPS_NUT:
			return 's'
		case h265.NALUType_PPS_NUT:
			return 'p'
		}
		return 0
	}
	switch h264.NALUType(n[0] & 0x1f) {
	case h264.NALUTypeSPS:
		return 's'
	case h264.NALUTypePPS:
		return 'p'
	}
	return 0
}

// OutOfBand returns the access units with their parameter sets taken out:
// a camera that sends them only in the SDP, or a WebRTC publisher.
func (c *Clip) OutOfBand() [][][]byte {
	out := make([][][]byte, 0, len(c.AUs))
	for _, au := range c.AUs {
		keep := make([][]byte, 0, len(au))
		for _, n := range au {
			if paramSet(n, c.Spec.HEVC) == 0 {
				keep = append(keep, n)
			}
		}
		out = append(out, keep)
	}
	return out
}

// frameTimes reads each video packet's DTS and PTS from ffmpeg's framecrc
// output, in decode order, as 90 kHz ticks from the first DTS.
func frameTimes(crc []byte) (pts, dts []int64, err error) {
	num, den := int64(0), int64(0)
	for _, line := range strings.Split(string(crc), "\n") {
		if tb, ok := strings.CutPrefix(line, "#tb 0: "); ok {
			n, d, _ := strings.Cut(tb, "/")
			num, _ = strconv.ParseInt(n, 10, 64)
			den, _ = strconv.ParseInt(d, 10, 64)
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 3 || den == 0 {
			return nil, nil, fmt.Errorf("framecrc line %q", line)
		}
		d, err1 := strconv.ParseInt(strings.TrimSpace(f[1]), 10, 64)
		p, err2 := strconv.ParseInt(strings.TrimSpace(f[2]), 10, 64)
		if err1 != nil || err2 != nil {
			return nil, nil, fmt.Errorf("framecrc line %q", line)
		}
		dts = append(dts, d*90000*num/den)
		pts = append(pts, p*90000*num/den)
	}
	if len(dts) == 0 {
		return nil, nil, fmt.Errorf("framecrc: no packets")
	}
	d0 := dts[0]
	for i := range dts {
		pts[i] -= d0
		dts[i] -= d0
	}
	return pts, dts, nil
}

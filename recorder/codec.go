package recorder

import (
	"bytes"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"

	"diemcau/pipeline"
	"diemcau/pipeline/h26x"
)

// supported tells the codecs the archive can hold.
func supported(c pipeline.Codec) bool {
	switch c {
	case pipeline.H264, pipeline.H265, pipeline.AAC, pipeline.Opus, pipeline.PCMU, pipeline.PCMA:
		return true
	}
	return false
}

// mp4Codec maps a track to its MP4 sample entry and time scale. Video takes
// its parameter sets from the keyframe that opens the segment when it
// carries them (they are what the decoder will use), else from the track.
// G.711 has no ISO MP4 sample entry, so it is stored as the 16-bit PCM it
// decodes to (ipcm), sample for sample.
func mp4Codec(t *pipeline.Track, key *pipeline.Frame) (mp4.Codec, uint32, error) {
	switch t.Codec {
	case pipeline.H264:
		sps, pps := t.SPS, t.PPS
		if key != nil {
			_, inSPS, inPPS := paramSets(t.Codec, key.NALUs)
			if inSPS != nil && inPPS != nil {
				sps, pps = inSPS, inPPS
			}
		}
		if len(sps) == 0 || len(pps) == 0 {
			return nil, 0, fmt.Errorf("h264: no SPS/PPS in the track or the keyframe")
		}
		var p h264.SPS
		if err := p.Unmarshal(sps); err != nil {
			return nil, 0, fmt.Errorf("h264: bad SPS: %w", err)
		}
		return &mp4.CodecH264{SPS: sps, PPS: pps}, 90000, nil

	case pipeline.H265:
		vps, sps, pps := t.VPS, t.SPS, t.PPS
		if key != nil {
			inVPS, inSPS, inPPS := paramSets(t.Codec, key.NALUs)
			if inVPS != nil && inSPS != nil && inPPS != nil {
				vps, sps, pps = inVPS, inSPS, inPPS
			}
		}
		if len(vps) == 0 || len(sps) == 0 || len(pps) == 0 {
			return nil, 0, fmt.Errorf("h265: no VPS/SPS/PPS in the track or the keyframe")
		}
		var p h265.SPS
		if err := p.Unmarshal(sps); err != nil {
			return nil, 0, fmt.Errorf("h265: bad SPS: %w", err)
		}
		return &mp4.CodecH265{VPS: vps, SPS: sps, PPS: pps}, 90000, nil

	case pipeline.AAC:
		var conf mpeg4audio.AudioSpecificConfig
		if len(t.Config) > 0 {
			if err := conf.Unmarshal(t.Config); err != nil {
				return nil, 0, fmt.Errorf("aac: bad AudioSpecificConfig: %w", err)
			}
		} else if t.SampleRate > 0 && t.Channels > 0 {
			conf = mpeg4audio.AudioSpecificConfig{
				Type: mpeg4audio.ObjectTypeAACLC, SampleRate: t.SampleRate, ChannelCount: t.Channels,
			}
		} else {
			return nil, 0, fmt.Errorf("aac: no AudioSpecificConfig")
		}
		if conf.SampleRate <= 0 {
			return nil, 0, fmt.Errorf("aac: sample rate %d", conf.SampleRate)
		}
		return &mp4.CodecMPEG4Audio{Config: conf}, uint32(conf.SampleRate), nil

	case pipeline.Opus:
		ch := t.Channels
		if ch <= 0 {
			ch = 2
		}
		return &mp4.CodecOpus{ChannelCount: ch}, 48000, nil

	case pipeline.PCMU, pipeline.PCMA:
		rate, ch := t.SampleRate, t.Channels
		if rate <= 0 {
			rate = 8000
		}
		if ch <= 0 {
			ch = 1
		}
		return &mp4.CodecLPCM{BitDepth: 16, SampleRate: rate, ChannelCount: ch}, uint32(rate), nil
	}
	return nil, 0, fmt.Errorf("codec %q cannot be archived", t.Codec)
}

// paramSets finds the in-band parameter sets of a video access unit.
func paramSets(c pipeline.Codec, nalus [][]byte) (vps, sps, pps []byte) {
	in := h26x.Scan(c, nalus)
	return in.VPS, in.SPS, in.PPS
}

// sameParams says whether an access unit's in-band SPS (if any) is the
// one a segment was opened with.
func sameParams(c pipeline.Codec, nalus [][]byte, opened []byte) bool {
	_, sps, _ := paramSets(c, nalus)
	return sps == nil || bytes.Equal(sps, opened)
}

// appendSample appends the MP4 sample bytes of a frame: length-prefixed NAL
// units for video, the coded frame for AAC and Opus, big-endian 16-bit PCM
// for G.711.
func appendSample(dst []byte, t *pipeline.Track, f *pipeline.Frame) []byte {
	switch t.Codec {
	case pipeline.H264, pipeline.H265:
		for _, n := range f.NALUs {
			l := len(n)
			dst = append(dst, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
			dst = append(dst, n...)
		}
		return dst
	case pipeline.PCMU:
		for _, b := range f.Payload {
			v := ulaw(b)
			dst = append(dst, byte(uint16(v)>>8), byte(v))
		}
		return dst
	case pipeline.PCMA:
		for _, b := range f.Payload {
			v := alaw(b)
			dst = append(dst, byte(uint16(v)>>8), byte(v))
		}
		return dst
	}
	return append(dst, f.Payload...)
}

// ulaw decodes one G.711 µ-law byte (ITU-T G.711, as in libavcodec).
func ulaw(b byte) int16 {
	u := ^b
	t := (int32(u&0x0f) << 3) + 0x84
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

// alaw decodes one G.711 A-law byte.
func alaw(b byte) int16 {
	a := b ^ 0x55
	t := int32(a&0x0f) << 4
	seg := (a & 0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

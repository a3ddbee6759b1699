package ingest

import (
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpfragmented"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// aacTrack builds an AAC track from its AudioSpecificConfig.
func aacTrack(conf *mpeg4audio.AudioSpecificConfig) (*pipeline.Track, int64, error) {
	enc, err := conf.Marshal()
	if err != nil {
		return nil, 0, fmt.Errorf("AAC config: %w", err)
	}
	t := &pipeline.Track{
		Codec:      pipeline.AAC,
		SampleRate: conf.SampleRate,
		Channels:   conf.ChannelCount,
		Config:     enc,
	}
	samples := int64(mpeg4audio.SamplesPerAccessUnit)
	if conf.FrameLengthFlag {
		samples = 960
	}
	return t, samples, nil
}

// aacFrames makes one frame per access unit, each with its own PTS: a packet
// may carry several units, spaced by the samples each one holds.
func aacFrames(d *Depacketizer, t *pipeline.Track, aus [][]byte, pts, clockRate, samples int64, wall time.Time) []*pipeline.Frame {
	if len(aus) == 0 {
		return nil
	}
	frames := make([]*pipeline.Frame, 0, len(aus))
	for i, au := range aus {
		if len(au) == 0 {
			continue
		}
		off := int64(i) * samples
		p := pts + off*clockRate/int64(t.SampleRate)
		frames = append(frames, &pipeline.Frame{
			Track:   t,
			PTS:     d.timeline(p, clockRate),
			DTS:     d.timeline(p, clockRate),
			Wall:    wall.Add(clockToDuration(off, int64(t.SampleRate))),
			Payload: au,
		})
	}
	return frames
}

// aacDecoder decodes MPEG-4 audio in the generic RTP format (RFC 3640),
// the usual AAC of IP cameras.
type aacDecoder struct {
	d         *Depacketizer
	rtp       *rtpmpeg4audio.Decoder
	track     *pipeline.Track
	clockRate int64
	samples   int64
}

func newAACDecoder(d *Depacketizer, f *format.MPEG4Audio, _ int) (*aacDecoder, *pipeline.Track, error) {
	r, err := f.CreateDecoder()
	if err != nil {
		return nil, nil, err
	}
	t, samples, err := aacTrack(f.Config)
	if err != nil {
		return nil, nil, err
	}
	return &aacDecoder{d: d, rtp: r, track: t, clockRate: int64(f.ClockRate()), samples: samples}, t, nil
}

func (a *aacDecoder) setTrack(t *pipeline.Track) { a.track = t }

func (a *aacDecoder) decode(pkt *rtp.Packet, pts int64, wall time.Time) ([]*pipeline.Frame, error) {
	aus, err := a.rtp.Decode(pkt)
	if err != nil {
		if errors.Is(err, rtpmpeg4audio.ErrMorePacketsNeeded) {
			return nil, nil
		}
		return nil, fmt.Errorf("AAC: %w", err)
	}
	return aacFrames(a.d, a.track, aus, pts, a.clockRate, a.samples, wall), nil
}

// latmDecoder decodes MPEG-4 audio in LATM (RFC 6416) with the stream mux
// config in the SDP (cpresent=0), which is what cameras that use LATM send.
type latmDecoder struct {
	d         *Depacketizer
	rtp       *rtpfragmented.Decoder
	muxConfig *mpeg4audio.StreamMuxConfig
	track     *pipeline.Track
	clockRate int64
	samples   int64
}

func newLATMDecoder(d *Depacketizer, f *format.MPEG4AudioLATM, _ int) (*latmDecoder, *pipeline.Track, error) {
	if f.CPresent || f.StreamMuxConfig == nil || len(f.StreamMuxConfig.Programs) == 0 ||
		len(f.StreamMuxConfig.Programs[0].Layers) == 0 || f.StreamMuxConfig.Programs[0].Layers[0].AudioSpecificConfig == nil {
		return nil, nil, errors.New("only LATM with the config in the SDP (cpresent=0) is supported")
	}
	r, err := f.CreateDecoder()
	if err != nil {
		return nil, nil, err
	}
	t, samples, err := aacTrack(f.StreamMuxConfig.Programs[0].Layers[0].AudioSpecificConfig)
	if err != nil {
		return nil, nil, err
	}
	return &latmDecoder{d: d, rtp: r, muxConfig: f.StreamMuxConfig, track: t, clockRate: int64(f.ClockRate()), samples: samples}, t, nil
}

func (l *latmDecoder) setTrack(t *pipeline.Track) { l.track = t }

func (l *latmDecoder) decode(pkt *rtp.Packet, pts int64, wall time.Time) ([]*pipeline.Frame, error) {
	buf, err := l.rtp.Decode(pkt)
	if err != nil {
		if errors.Is(err, rtpfragmented.ErrMorePacketsNeeded) {
			return nil, nil
		}
		return nil, fmt.Errorf("AAC LATM: %w", err)
	}
	el := mpeg4audio.AudioMuxElement{StreamMuxConfig: l.muxConfig}
	if err := el.Unmarshal(buf); err != nil {
		return nil, fmt.Errorf("AAC LATM: %w", err)
	}
	aus := make([][]byte, 0, len(el.Payloads))
	for _, sub := range el.Payloads {
		if len(sub) > 0 && len(sub[0]) > 0 {
			aus = append(aus, sub[0][0])
		}
	}
	return aacFrames(l.d, l.track, aus, pts, l.clockRate, l.samples, wall), nil
}

// simpleAudioDecoder handles codecs with one frame per RTP packet: Opus and
// G.711.
type simpleAudioDecoder struct {
	d         *Depacketizer
	decodeFn  func(*rtp.Packet) ([]byte, error)
	track     *pipeline.Track
	clockRate int64
}

func (s *simpleAudioDecoder) setTrack(t *pipeline.Track) { s.track = t }

func (s *simpleAudioDecoder) decode(pkt *rtp.Packet, pts int64, wall time.Time) ([]*pipeline.Frame, error) {
	payload, err := s.decodeFn(pkt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.track.Codec, err)
	}
	if len(payload) == 0 {
		return nil, nil
	}
	p := s.d.timeline(pts, s.clockRate)
	return []*pipeline.Frame{{Track: s.track, PTS: p, DTS: p, Wall: wall, Payload: payload}}, nil
}

func newOpusDecoder(d *Depacketizer, f *format.Opus, _ int) (*simpleAudioDecoder, *pipeline.Track, error) {
	r, err := f.CreateDecoder()
	if err != nil {
		return nil, nil, err
	}
	ch := f.ChannelCount
	if ch == 0 {
		ch = 2
	}
	t := &pipeline.Track{Codec: pipeline.Opus, SampleRate: 48000, Channels: ch}
	return &simpleAudioDecoder{d: d, decodeFn: r.Decode, track: t, clockRate: 48000}, t, nil
}

func newG711Decoder(d *Depacketizer, f *format.G711, _ int) (*simpleAudioDecoder, *pipeline.Track, error) {
	r, err := f.CreateDecoder()
	if err != nil {
		return nil, nil, err
	}
	codec := pipeline.PCMA
	if f.MULaw {
		codec = pipeline.PCMU
	}
	rate := f.SampleRate
	if rate == 0 {
		rate = 8000
	}
	ch := f.ChannelCount
	if ch == 0 {
		ch = 1
	}
	t := &pipeline.Track{Codec: codec, SampleRate: rate, Channels: ch}
	return &simpleAudioDecoder{d: d, decodeFn: r.Decode, track: t, clockRate: int64(f.ClockRate())}, t, nil
}

package ingest

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtplpcm"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpsimpleaudio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// rtpPayloadMax leaves room for the RTP header and SRTP overhead inside a
// 1472-byte UDP payload, the size gortsplib's server allows.
const rtpPayloadMax = 1450

// Payload types the server offers; G.711 uses its static types.
const (
	videoPayloadType = 96
	audioPayloadType = 97
)

// ErrUnsupportedCodec is returned for a track whose codec cannot be carried
// over RTP by diemcau.
var ErrUnsupportedCodec = errors.New("unsupported codec")

// Packetizer turns the frames of one track into RTP packets. Video uses a
// packetiser of our own that reuses its packets and buffers (it runs once
// per frame for every re-served feed); audio uses gortsplib's encoders.
//
// The packets returned by Packetize belong to the Packetizer and are valid
// until the next call. A Packetizer is used by one goroutine.
type Packetizer struct {
	track  *pipeline.Track
	media  *description.Media
	format format.Format
	clock  int64
	tsBase uint32

	video *videoPacketizer

	aac  *rtpmpeg4audio.Encoder
	opus *rtpsimpleaudio.Encoder
	g711 *rtplpcm.Encoder
	one  [1]*rtp.Packet
}

// NewPacketizer makes the packetizer and the SDP media of a track. SPS/PPS
// (and VPS) of video tracks go into the SDP fmtp, so that a decoder can start
// before the first in-band parameters.
func NewPacketizer(t *pipeline.Track) (*Packetizer, error) {
	if t == nil {
		return nil, fmt.Errorf("packetizer: no track")
	}
	p := &Packetizer{track: t}
	var err error
	switch t.Codec {
	case pipeline.H264:
		p.format = &format.H264{PayloadTyp: videoPayloadType, PacketizationMode: 1, SPS: t.SPS, PPS: t.PPS}
		p.video, err = newVideoPacketizer(t, videoPayloadType, rtpPayloadMax)
	case pipeline.H265:
		p.format = &format.H265{PayloadTyp: videoPayloadType, VPS: t.VPS, SPS: t.SPS, PPS: t.PPS}
		p.video, err = newVideoPacketizer(t, videoPayloadType, rtpPayloadMax)
	case pipeline.AAC:
		err = p.initAAC(t)
	case pipeline.Opus:
		ch := t.Channels
		if ch <= 0 {
			ch = 2
		}
		f := &format.Opus{PayloadTyp: audioPayloadType, ChannelCount: ch}
		p.format = f
		p.opus, err = f.CreateEncoder()
	case pipeline.PCMU, pipeline.PCMA:
		f := &format.G711{MULaw: t.Codec == pipeline.PCMU, SampleRate: 8000, ChannelCount: max(t.Channels, 1)}
		f.PayloadTyp = 8
		if f.MULaw {
			f.PayloadTyp = 0
		}
		p.format = f
		p.g711, err = f.CreateEncoder()
	default:
		return nil, fmt.Errorf("packetizer: %w %q", ErrUnsupportedCodec, t.Codec)
	}
	if err != nil {
		return nil, fmt.Errorf("packetizer: %s: %w", t.Codec, err)
	}
	p.clock = int64(p.format.ClockRate())
	if p.clock <= 0 {
		return nil, fmt.Errorf("packetizer: %s: no clock rate", t.Codec)
	}
	mt := description.MediaTypeVideo
	if t.Kind() == pipeline.Audio {
		mt = description.MediaTypeAudio
	}
	p.media = &description.Media{Type: mt, Formats: []format.Format{p.format}}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("packetizer: %w", err)
	}
	// A random start makes RTP timestamps hard to predict (RFC 3550 §5.1).
	p.tsBase = binary.BigEndian.Uint32(b[:])
	return p, nil
}

func (p *Packetizer) initAAC(t *pipeline.Track) error {
	var conf mpeg4audio.AudioSpecificConfig
	if len(t.Config) > 0 {
		if err := conf.Unmarshal(t.Config); err != nil {
			return fmt.Errorf("AudioSpecificConfig: %w", err)
		}
	} else {
		if t.SampleRate <= 0 || t.Channels <= 0 {
			return fmt.Errorf("no AudioSpecificConfig and no sample rate/channels")
		}
		conf = mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: t.SampleRate, ChannelCount: t.Channels}
	}
	f := &format.MPEG4Audio{
		PayloadTyp:       audioPayloadType,
		ProfileLevelID:   1,
		Config:           &conf,
		SizeLength:       13,
		IndexLength:      3,
		IndexDeltaLength: 3,
	}
	p.format = f
	var err error
	p.aac, err = f.CreateEncoder()
	return err
}

// Track is the track the packetizer was made for.
func (p *Packetizer) Track() *pipeline.Track { return p.track }

// Media is the SDP media describing the packets.
func (p *Packetizer) Media() *description.Media { return p.media }

// Format is the RTP format of the packets.
func (p *Packetizer) Format() format.Format { return p.format }

// Timestamp converts a presentation time to the track's RTP clock.
func (p *Packetizer) Timestamp(pts time.Duration) uint32 {
	// Split seconds from the remainder so pts*clock cannot overflow on
	// long sessions (90 kHz overflows int64 after ~28 h otherwise).
	sec := int64(pts / time.Second)
	rem := int64(pts % time.Second)
	return p.tsBase + uint32(sec*p.clock+rem*p.clock/int64(time.Second))
}

// Packetize returns the RTP packets of one frame, timestamped from its PTS.
func (p *Packetizer) Packetize(f *pipeline.Frame) ([]*rtp.Packet, error) {
	ts := p.Timestamp(f.PTS)
	if p.video != nil {
		return p.video.packetize(f, ts)
	}
	if len(f.Payload) == 0 {
		return nil, fmt.Errorf("%s frame without payload", p.track.Codec)
	}
	var pkts []*rtp.Packet
	var err error
	switch {
	case p.aac != nil:
		pkts, err = p.aac.Encode([][]byte{f.Payload})
	case p.opus != nil:
		var pkt *rtp.Packet
		pkt, err = p.opus.Encode(f.Payload)
		p.one[0] = pkt
		pkts = p.one[:]
	case p.g711 != nil:
		pkts, err = p.g711.Encode(f.Payload)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.track.Codec, err)
	}
	for _, pkt := range pkts {
		// The encoders count from zero within the frame (G.711 splits long
		// frames into several packets); add the frame's own time.
		pkt.Timestamp += ts
	}
	return pkts, nil
}

// sameTrackParams reports whether two tracks would give the same SDP media,
// so that a new *Track with the old parameters (an encoder reconnecting with
// the same settings) does not force RTSP readers to reconnect.
func sameTrackParams(a, b *pipeline.Track) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	return a.Codec == b.Codec &&
		string(a.VPS) == string(b.VPS) && string(a.SPS) == string(b.SPS) && string(a.PPS) == string(b.PPS) &&
		a.Width == b.Width && a.Height == b.Height &&
		a.SampleRate == b.SampleRate && a.Channels == b.Channels && string(a.Config) == string(b.Config)
}

package camsim

import (
	"fmt"
	"math"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// rtpHeaderSize is subtracted from the MTU to get the payload limit.
const rtpHeaderSize = 12

// Payload types offered in the SDP.
const (
	payloadH264 = 96
	payloadAAC  = 97
	payloadOpus = 111
)

// PacketLoop is a gst.Loop packetised into RTP once; every camera replays
// the same packets with its own timestamps and sequence numbers.
type PacketLoop struct {
	Video *LoopTrack
	Audio *LoopTrack // nil without audio
	// GOP is the video frames per GOP; every GOP starts with an IDR.
	GOP int
	// Period is the video frames of a pattern whose phase follows the
	// media clock (avsync: one second, one GOP); 0 for none. A replay then
	// starts on a period and never shifts the picture.
	Period int
	// tones are the cameras' own audio tracks (avsync); empty: all play Audio.
	tones []*LoopTrack
}

// AudioFor is the audio track camera i (0-based) plays.
func (pl *PacketLoop) AudioFor(i int) *LoopTrack {
	if len(pl.tones) == 0 {
		return pl.Audio
	}
	return pl.tones[i%len(pl.tones)]
}

// LoopTrack is one track of a PacketLoop.
type LoopTrack struct {
	Format    format.Format
	ClockRate int
	// Frame n of an endless replay is at ticks n*tickNum/tickDen.
	tickNum, tickDen int64
	Frames           []LoopFrame
}

// LoopFrame holds the RTP packets of one access unit. Packets are templates:
// their payloads are shared and never written.
type LoopFrame struct {
	Key     bool
	Packets []*rtp.Packet
}

// Ticks is the RTP time of frame n of an endless replay, from 0.
func (t *LoopTrack) Ticks(n int64) int64 { return n * t.tickNum / t.tickDen }

// Time is when frame n of an endless replay is due, from 0.
func (t *LoopTrack) Time(n int64) time.Duration {
	ticks := t.Ticks(n)
	cr := int64(t.ClockRate)
	return time.Duration(ticks/cr)*time.Second + time.Duration(ticks%cr*int64(time.Second)/cr)
}

// FrameAt is the first frame due at or after d.
func (t *LoopTrack) FrameAt(d time.Duration) int64 {
	n := int64(math.Floor(d.Seconds() * float64(t.ClockRate) * float64(t.tickDen) / float64(t.tickNum)))
	for n > 0 && t.Time(n-1) >= d {
		n--
	}
	for t.Time(n) < d {
		n++
	}
	return n
}

// NewPacketLoop packetises l with packets of at most mtu bytes.
func NewPacketLoop(l *gst.Loop, mtu int) (*PacketLoop, error) {
	maxPayload := mtu - rtpHeaderSize
	h264f := &format.H264{PayloadTyp: payloadH264, SPS: l.Video.SPS, PPS: l.Video.PPS, PacketizationMode: 1}
	enc, err := h264f.CreateEncoder()
	if err != nil {
		return nil, fmt.Errorf("camsim: h264 packetiser: %w", err)
	}
	enc.PayloadMaxSize = maxPayload
	pl := &PacketLoop{
		GOP:   l.GOP,
		Video: &LoopTrack{Format: h264f, ClockRate: 90000, tickNum: 90000, tickDen: int64(l.Video.FPS)},
	}
	for i, f := range l.VideoFrames {
		pkts, err := enc.Encode(f.NALUs)
		if err != nil {
			return nil, fmt.Errorf("camsim: packetise video frame %d: %w", i, err)
		}
		pl.Video.Frames = append(pl.Video.Frames, LoopFrame{Key: f.Key, Packets: pkts})
	}
	if l.Audio != nil {
		if pl.Audio, err = newAudioLoopTrack(l, maxPayload); err != nil {
			return nil, err
		}
	}
	return pl, nil
}

func newAudioLoopTrack(l *gst.Loop, maxPayload int) (*LoopTrack, error) {
	t := &LoopTrack{ClockRate: l.Audio.ClockRate(), tickNum: int64(l.AudioFrameSamples), tickDen: 1}
	var encode func(*pipeline.Frame) ([]*rtp.Packet, error)
	switch l.Audio.Codec {
	case pipeline.Opus:
		f := &format.Opus{PayloadTyp: payloadOpus, ChannelCount: l.Audio.Channels}
		enc, err := f.CreateEncoder()
		if err != nil {
			return nil, fmt.Errorf("camsim: opus packetiser: %w", err)
		}
		enc.PayloadMaxSize = maxPayload
		t.Format = f
		encode = func(fr *pipeline.Frame) ([]*rtp.Packet, error) {
			p, err := enc.Encode(fr.Payload)
			return []*rtp.Packet{p}, err
		}
	case pipeline.AAC:
		var asc mpeg4audio.AudioSpecificConfig
		if err := asc.Unmarshal(l.Audio.Config); err != nil {
			return nil, fmt.Errorf("camsim: aac config: %w", err)
		}
		f := &format.MPEG4Audio{PayloadTyp: payloadAAC, Config: &asc, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
		enc, err := f.CreateEncoder()
		if err != nil {
			return nil, fmt.Errorf("camsim: aac packetiser: %w", err)
		}
		enc.PayloadMaxSize = maxPayload
		t.Format = f
		t.ClockRate = f.ClockRate()
		encode = func(fr *pipeline.Frame) ([]*rtp.Packet, error) { return enc.Encode([][]byte{fr.Payload}) }
	default:
		return nil, fmt.Errorf("camsim: audio codec %q", l.Audio.Codec)
	}
	for i, fr := range l.AudioFrames {
		pkts, err := encode(fr)
		if err != nil {
			return nil, fmt.Errorf("camsim: packetise audio frame %d: %w", i, err)
		}
		t.Frames = append(t.Frames, LoopFrame{Key: true, Packets: pkts})
	}
	return t, nil
}

// Description is a fresh SDP description of the loop; each camera needs its
// own, since a gortsplib ServerStream keys its state by *Media.
func (pl *PacketLoop) Description() *description.Session {
	d := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{cloneFormat(pl.Video.Format)}}}}
	if pl.Audio != nil {
		d.Medias = append(d.Medias, &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{cloneFormat(pl.Audio.Format)}})
	}
	return d
}

func cloneFormat(f format.Format) format.Format {
	switch f := f.(type) {
	case *format.H264:
		sps, pps := f.SafeParams()
		return &format.H264{PayloadTyp: f.PayloadTyp, SPS: sps, PPS: pps, PacketizationMode: f.PacketizationMode}
	case *format.Opus:
		return &format.Opus{PayloadTyp: f.PayloadTyp, ChannelCount: f.ChannelCount}
	case *format.MPEG4Audio:
		c := *f.Config
		return &format.MPEG4Audio{PayloadTyp: f.PayloadTyp, Config: &c, SizeLength: f.SizeLength, IndexLength: f.IndexLength, IndexDeltaLength: f.IndexDeltaLength}
	}
	return f
}

// PacketWriter takes RTP packets; a gortsplib ServerStream is one.
type PacketWriter interface {
	WritePacketRTPWithNTP(medi *description.Media, pkt *rtp.Packet, ntp time.Time) error
}

// Replayer is one camera's replay of one LoopTrack: it rewrites timestamp
// and sequence number into a single reused packet, so the replay allocates
// nothing per packet.
type Replayer struct {
	track  *LoopTrack
	media  *description.Media
	pkt    rtp.Packet
	seq    uint16
	tsBase uint32
	// shift is added to the frame number to pick the loop frame, so cameras
	// show different moments and a resumed camera can start at a GOP.
	shift int64
}

// NewReplayer starts a replay with its own RTP timestamp base, first
// sequence number and position in the loop.
func NewReplayer(t *LoopTrack, media *description.Media, tsBase uint32, seq uint16, shift int64) *Replayer {
	return &Replayer{track: t, media: media, tsBase: tsBase, seq: seq, shift: shift}
}

// frameIndex is the loop frame shown as frame n.
func (r *Replayer) frameIndex(n int64) int {
	l := int64(len(r.track.Frames))
	return int(((n+r.shift)%l + l) % l)
}

// AlignToKeyframe moves the loop position so that frame n shows the start
// of its GOP: a reader that joins a camera that was idle gets an IDR first.
func (r *Replayer) AlignToKeyframe(n int64, gop int) {
	if gop <= 0 {
		return
	}
	r.shift -= int64(r.frameIndex(n) % gop)
}

// WriteFrame sends frame n of the endless replay to w, stamped ntp, and
// returns the number of packets written.
func (r *Replayer) WriteFrame(w PacketWriter, n int64, ntp time.Time) (int, error) {
	fr := &r.track.Frames[r.frameIndex(n)]
	ts := r.tsBase + uint32(r.track.Ticks(n))
	for _, tmpl := range fr.Packets {
		r.pkt.Header = tmpl.Header
		r.pkt.SequenceNumber = r.seq
		r.pkt.Timestamp = ts
		r.pkt.Payload = tmpl.Payload
		r.seq++
		if err := w.WritePacketRTPWithNTP(r.media, &r.pkt, ntp); err != nil {
			return 0, err
		}
	}
	return len(fr.Packets), nil
}

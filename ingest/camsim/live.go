package camsim

import (
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// liveSender packetises a live encoder's frames for one camera. Frames come
// one at a time from the encoder's pull goroutine.
type liveSender struct {
	cam       *camera
	server    *gortsplib.Server
	mtu       int
	wantAudio bool

	started    bool
	video      *pipeline.Track
	videoEnc   *rtph264.Encoder
	audioEnc   func([]byte) ([]*rtp.Packet, error)
	audioTrack *pipeline.Track
	tsVideo    uint32
	tsAudio    uint32
}

// onFrame publishes the camera at the first IDR (its SDP needs SPS and PPS)
// and then sends each frame while someone watches.
func (s *liveSender) onFrame(f *pipeline.Frame) {
	switch f.Track.Kind() {
	case pipeline.Video:
		if s.video == nil {
			s.video = f.Track
			s.maybeStart()
		}
		if !s.started || !s.cam.active.Load() {
			return
		}
		st := s.cam.currentStream()
		if st == nil {
			return
		}
		pkts, err := s.videoEnc.Encode(f.NALUs)
		if err != nil {
			s.cam.countWrite(0, err)
			return
		}
		s.send(st, st.Desc.Medias[0], pkts, s.tsVideo+uint32(durationTicks(f.PTS, 90000)), f.Wall)
	case pipeline.Audio:
		if s.audioTrack == nil {
			s.audioTrack = f.Track
			s.maybeStart()
		}
		if !s.started || s.audioEnc == nil || !s.cam.active.Load() {
			return
		}
		st := s.cam.currentStream()
		if st == nil || len(st.Desc.Medias) < 2 {
			return
		}
		pkts, err := s.audioEnc(f.Payload)
		if err != nil {
			s.cam.countWrite(0, err)
			return
		}
		s.send(st, st.Desc.Medias[1], pkts, s.tsAudio+uint32(durationTicks(f.PTS, f.Track.ClockRate())), f.Wall)
	}
}

func (s *liveSender) send(st *gortsplib.ServerStream, m *description.Media, pkts []*rtp.Packet, ts uint32, wall time.Time) {
	for _, p := range pkts {
		p.Timestamp = ts
		if err := s.cam.writer(st).WritePacketRTPWithNTP(m, p, wall); err != nil {
			s.cam.countWrite(0, err)
			return
		}
	}
	s.cam.countWrite(len(pkts), nil)
}

// maybeStart publishes the camera once its SDP can be written: the first
// IDR's parameter sets and, with audio, the audio track.
func (s *liveSender) maybeStart() {
	if s.started || s.video == nil || (s.wantAudio && s.audioTrack == nil) {
		return
	}
	s.started = true
	if err := s.start(s.video); err != nil {
		s.cam.log.Error("live camera cannot start", "error", err)
	}
}

func (s *liveSender) start(video *pipeline.Track) error {
	h264f := &format.H264{PayloadTyp: payloadH264, SPS: video.SPS, PPS: video.PPS, PacketizationMode: 1}
	enc, err := h264f.CreateEncoder()
	if err != nil {
		return err
	}
	enc.PayloadMaxSize = s.mtu - rtpHeaderSize
	var audioFormat format.Format
	if a := s.audioTrack; a != nil {
		if audioFormat, s.audioEnc, err = s.audioPacketiser(a); err != nil {
			return err
		}
	}
	s.videoEnc = enc
	desc := func() *description.Session {
		d := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{cloneFormat(h264f)}}}}
		if audioFormat != nil {
			d.Medias = append(d.Medias, &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{cloneFormat(audioFormat)}})
		}
		return d
	}
	return s.cam.publish(s.server, desc)
}

func (s *liveSender) audioPacketiser(a *pipeline.Track) (format.Format, func([]byte) ([]*rtp.Packet, error), error) {
	maxPayload := s.mtu - rtpHeaderSize
	switch a.Codec {
	case pipeline.Opus:
		f := &format.Opus{PayloadTyp: payloadOpus, ChannelCount: a.Channels}
		enc, err := f.CreateEncoder()
		if err != nil {
			return nil, nil, err
		}
		enc.PayloadMaxSize = maxPayload
		return f, func(b []byte) ([]*rtp.Packet, error) {
			p, err := enc.Encode(b)
			return []*rtp.Packet{p}, err
		}, nil
	case pipeline.AAC:
		var asc mpeg4audio.AudioSpecificConfig
		if err := asc.Unmarshal(a.Config); err != nil {
			return nil, nil, fmt.Errorf("aac config: %w", err)
		}
		f := &format.MPEG4Audio{PayloadTyp: payloadAAC, Config: &asc, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
		enc, err := f.CreateEncoder()
		if err != nil {
			return nil, nil, err
		}
		enc.PayloadMaxSize = maxPayload
		return f, func(b []byte) ([]*rtp.Packet, error) { return enc.Encode([][]byte{b}) }, nil
	}
	return nil, nil, fmt.Errorf("audio codec %q", a.Codec)
}

// durationTicks converts a PTS to RTP clock ticks without overflow.
func durationTicks(d time.Duration, clockRate int) int64 {
	cr := int64(clockRate)
	return int64(d/time.Second)*cr + int64(d%time.Second)*cr/int64(time.Second)
}

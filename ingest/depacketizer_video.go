package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"

	"diemcau/pipeline"
	"diemcau/pipeline/h26x"
)

const videoClockRate = 90000

// auTiming remembers the timestamp of the access unit being assembled. The
// H.264 RTP decoder also closes an access unit when the RTP timestamp
// changes (cameras that never set the marker bit); the unit it returns then
// belongs to the buffered timestamp, not to the packet in hand.
type auTiming struct {
	buffered bool // the decoder holds NAL units of timestamp ts
	ts       uint32
	pts      int64
	wall     time.Time
}

// more records a packet after which the decoder needs more packets.
func (a *auTiming) more(pkt *rtp.Packet, pts int64, wall time.Time) {
	if a.buffered || h264FragmentContinues(pkt.Payload) {
		return
	}
	a.buffered, a.ts, a.pts, a.wall = true, pkt.Timestamp, pts, wall
}

// complete returns the timing of an access unit the decoder just returned.
func (a *auTiming) complete(pkt *rtp.Packet, pts int64, wall time.Time) (int64, time.Time) {
	if a.buffered && a.ts != pkt.Timestamp {
		// Split on timestamp: the packet in hand is now buffered.
		p, w := a.pts, a.wall
		a.ts, a.pts, a.wall = pkt.Timestamp, pts, wall
		return p, w
	}
	a.buffered = false
	return pts, wall
}

// h264FragmentContinues reports an FU-A packet that does not end its NAL
// unit: the decoder keeps it aside, not in the access unit yet.
func h264FragmentContinues(payload []byte) bool {
	return len(payload) >= 2 && payload[0]&0x1F == 28 && payload[1]&0x40 == 0
}

// dtsExtractor is h264.DTSExtractor or h265.DTSExtractor, by pointer.
type dtsExtractor[T any] interface {
	*T
	Initialize()
	Extract(au [][]byte, pts int64) (int64, error)
}

// videoSync is the part of H.264 and H.265 decoding that is the same for
// both: parameter sets in front of every keyframe, DTS (B-frames), and the
// wait for a keyframe.
type videoSync[T any, P dtsExtractor[T]] struct {
	codec         string // "H264", in errors
	missingParams string // the error when a keyframe comes before its parameter sets
	dts           T
	// synced is false until the first keyframe (and after a timing error):
	// frames before it cannot be decoded by anyone.
	synced bool
}

// frame finishes an access unit whose parameter sets and delimiters were
// taken out: a keyframe gets params put back in front, so that any
// keyframe can start a decoder. It returns nil while waiting for a keyframe.
func (s *videoSync[T, P]) frame(d *Depacketizer, track *pipeline.Track, au [][]byte, key bool, params [][]byte, pts int64, wall time.Time) (*pipeline.Frame, error) {
	if key {
		for _, p := range params {
			if p == nil {
				return nil, errors.New(s.missingParams)
			}
		}
		full := make([][]byte, 0, len(params)+len(au))
		full = append(full, params...)
		au = append(full, au...)
		if !s.synced {
			var fresh T
			s.dts = fresh
			P(&s.dts).Initialize()
			s.synced = true
		}
	} else if !s.synced {
		return nil, nil
	}
	dts, err := P(&s.dts).Extract(au, pts)
	if err != nil {
		s.synced = false
		return nil, fmt.Errorf("%s timing: %w", s.codec, err)
	}
	return &pipeline.Frame{
		Track: track,
		PTS:   d.timeline(pts, videoClockRate),
		DTS:   d.timeline(dts, videoClockRate),
		Wall:  wall,
		Key:   key,
		NALUs: au,
	}, nil
}

// h264Decoder reassembles H.264 access units, keeps the parameter sets and
// puts them in front of every IDR, and computes DTS (B-frames).
type h264Decoder struct {
	d        *Depacketizer
	rtp      *rtph264.Decoder
	trackIdx int
	track    *pipeline.Track
	sps, pps []byte
	timing   auTiming
	sync     videoSync[h264.DTSExtractor, *h264.DTSExtractor]
}

func newH264Decoder(d *Depacketizer, f *format.H264, idx int) (*h264Decoder, *pipeline.Track, error) {
	r, err := f.CreateDecoder()
	if err != nil {
		return nil, nil, err
	}
	sps, pps := f.SafeParams()
	t, err := h264Track(sps, pps)
	if err != nil {
		// Parameters in the SDP are only a hint; in-band ones may be fine.
		sps, pps = nil, nil
		t = &pipeline.Track{Codec: pipeline.H264}
	}
	h := &h264Decoder{d: d, rtp: r, trackIdx: idx, track: t, sps: sps, pps: pps}
	h.sync.missingParams = "H264: IDR picture without SPS/PPS"
	h.sync.codec = "H264"
	return h, t, nil
}

func (h *h264Decoder) decode(pkt *rtp.Packet, pts int64, wall time.Time) ([]*pipeline.Frame, error) {
	au, err := h.rtp.Decode(pkt)
	if err != nil {
		if errors.Is(err, rtph264.ErrMorePacketsNeeded) {
			h.timing.more(pkt, pts, wall)
			return nil, nil
		}
		h.timing.buffered = false
		if errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) {
			return nil, nil // joined in the middle of a fragmented unit
		}
		return nil, fmt.Errorf("H264: %w", err)
	}
	auPTS, auWall := h.timing.complete(pkt, pts, wall)
	f, err := h.frame(au, auPTS, auWall)
	if f == nil {
		return nil, err
	}
	return []*pipeline.Frame{f}, err
}

func (h *h264Decoder) setTrack(t *pipeline.Track) {
	h.track, h.sps, h.pps = t, t.SPS, t.PPS
}

// frame turns one access unit into a frame, or nil while waiting for a
// keyframe. Parameter sets and delimiters are taken out and the current
// parameter sets put back in front of IDR pictures, so every keyframe in the
// stream can start a decoder, whether the camera sends them in-band or only
// in the SDP.
func (h *h264Decoder) frame(au [][]byte, pts int64, wall time.Time) (*pipeline.Frame, error) {
	au, in := h26x.SplitH264(au)
	var paramErr error
	if in.SPS != nil || in.PPS != nil {
		paramErr = h.updateParams(in.SPS, in.PPS)
	}
	if len(au) == 0 {
		return nil, paramErr
	}
	f, err := h.sync.frame(h.d, h.track, au, in.Key, [][]byte{h.sps, h.pps}, pts, wall)
	if err != nil {
		return nil, err
	}
	return f, paramErr
}

// updateParams keeps in-band parameter sets; a change makes a new track.
func (h *h264Decoder) updateParams(sps, pps []byte) error {
	if sps == nil {
		sps = h.sps
	}
	if pps == nil {
		pps = h.pps
	}
	if bytes.Equal(sps, h.sps) && bytes.Equal(pps, h.pps) {
		return nil
	}
	// Copy: the track outlives the packet buffers it came in.
	sps, pps = bytes.Clone(sps), bytes.Clone(pps)
	t, err := h264Track(sps, pps)
	if err != nil {
		return err
	}
	h.sps, h.pps, h.track = sps, pps, t
	h.d.replaceTrack(h.trackIdx, t)
	return nil
}

// h265Decoder is h264Decoder for H.265, with VPS and IRAP pictures.
type h265Decoder struct {
	d             *Depacketizer
	rtp           *rtph265.Decoder
	trackIdx      int
	track         *pipeline.Track
	vps, sps, pps []byte
	sync          videoSync[h265.DTSExtractor, *h265.DTSExtractor]
}

func newH265Decoder(d *Depacketizer, f *format.H265, idx int) (*h265Decoder, *pipeline.Track, error) {
	r, err := f.CreateDecoder()
	if err != nil {
		return nil, nil, err
	}
	vps, sps, pps := f.SafeParams()
	t, err := h265Track(vps, sps, pps)
	if err != nil {
		vps, sps, pps = nil, nil, nil
		t = &pipeline.Track{Codec: pipeline.H265}
	}
	h := &h265Decoder{d: d, rtp: r, trackIdx: idx, track: t, vps: vps, sps: sps, pps: pps}
	h.sync.missingParams = "H265: IRAP picture without VPS/SPS/PPS"
	h.sync.codec = "H265"
	return h, t, nil
}

func (h *h265Decoder) decode(pkt *rtp.Packet, pts int64, wall time.Time) ([]*pipeline.Frame, error) {
	au, err := h.rtp.Decode(pkt)
	if err != nil {
		if errors.Is(err, rtph265.ErrMorePacketsNeeded) {
			return nil, nil
		}
		if errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious) {
			return nil, nil
		}
		return nil, fmt.Errorf("H265: %w", err)
	}
	// The H.265 decoder closes units on the marker bit only: the packet in
	// hand carries the unit's timestamp.
	f, err := h.frame(au, pts, wall)
	if f == nil {
		return nil, err
	}
	return []*pipeline.Frame{f}, err
}

func (h *h265Decoder) setTrack(t *pipeline.Track) {
	h.track, h.vps, h.sps, h.pps = t, t.VPS, t.SPS, t.PPS
}

func (h *h265Decoder) frame(au [][]byte, pts int64, wall time.Time) (*pipeline.Frame, error) {
	au, in := h26x.SplitH265(au)
	var paramErr error
	if in.VPS != nil || in.SPS != nil || in.PPS != nil {
		paramErr = h.updateParams(in.VPS, in.SPS, in.PPS)
	}
	if len(au) == 0 {
		return nil, paramErr
	}
	f, err := h.sync.frame(h.d, h.track, au, in.Key, [][]byte{h.vps, h.sps, h.pps}, pts, wall)
	if err != nil {
		return nil, err
	}
	return f, paramErr
}

func (h *h265Decoder) updateParams(vps, sps, pps []byte) error {
	if vps == nil {
		vps = h.vps
	}
	if sps == nil {
		sps = h.sps
	}
	if pps == nil {
		pps = h.pps
	}
	if bytes.Equal(vps, h.vps) && bytes.Equal(sps, h.sps) && bytes.Equal(pps, h.pps) {
		return nil
	}
	vps, sps, pps = bytes.Clone(vps), bytes.Clone(sps), bytes.Clone(pps)
	t, err := h265Track(vps, sps, pps)
	if err != nil {
		return err
	}
	h.vps, h.sps, h.pps, h.track = vps, sps, pps, t
	h.d.replaceTrack(h.trackIdx, t)
	return nil
}

package srt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"diemcau/ingest"
	"diemcau/pipeline"
	"diemcau/pipeline/h26x"
)

// tsClock is MPEG-TS's timestamp clock.
const tsClock = 90000

// ErrUnsupported is returned when a stream carries nothing diemcau can
// take: neither H.264/H.265 video nor AAC/Opus audio.
var ErrUnsupported = errors.New("no H.264/H.265 video or AAC/Opus audio in the MPEG-TS")

// sink receives what a demuxer makes, on the connection's goroutine.
type sink interface {
	setTracks(tracks []*pipeline.Track)
	frame(f *pipeline.Frame)
}

// demuxer turns one connection's MPEG-TS into frames: access units with
// parameter sets in front of every keyframe, PTS and DTS from the PES
// headers on one 90 kHz clock (wraps undone), starting at zero.
type demuxer struct {
	r   *mpegts.Reader
	out sink
	td  mpegts.TimeDecoder

	tracks  []*pipeline.Track
	video   *videoState
	dropped []string
	// published: the tracks went out, at the first keyframe (or the first
	// audio frame of a stream without video). Frames before would refer
	// to tracks that readers have not seen.
	published bool
	// onError counts a problem of the stream that does not end it.
	onError func(error)
}

// videoState is the H.264 or H.265 track's parameter sets and sync.
type videoState struct {
	idx           int
	codec         pipeline.Codec
	vps, sps, pps []byte
	synced        bool
}

// newDemuxer reads until the program's tracks are known (PMT, and the
// first ADTS header of AAC). r is read on the caller's goroutine.
func newDemuxer(r io.Reader, out sink, onError func(error)) (*demuxer, error) {
	d := &demuxer{r: &mpegts.Reader{R: r}, out: out, onError: onError}
	if err := d.r.Initialize(); err != nil {
		return nil, fmt.Errorf("MPEG-TS: %w", err)
	}
	d.r.OnDecodeError(onError)
	var audio bool
	for _, t := range d.r.Tracks() {
		switch c := t.Codec.(type) {
		case *mpegts.CodecH264:
			if d.video == nil {
				d.addVideo(pipeline.H264)
				d.r.OnDataH264(t, d.onH264)
				continue
			}
		case *mpegts.CodecH265:
			if d.video == nil {
				d.addVideo(pipeline.H265)
				d.r.OnDataH265(t, d.onH265)
				continue
			}
		case *mpegts.CodecMPEG4Audio:
			if !audio {
				conf := c.Config
				tr, samples, err := ingest.AACTrack(&conf)
				if err == nil {
					audio = true
					d.r.OnDataMPEG4Audio(t, d.onAAC(d.addTrack(tr), samples))
					continue
				}
			}
		case *mpegts.CodecOpus:
			if !audio {
				audio = true
				tr := &pipeline.Track{Codec: pipeline.Opus, SampleRate: 48000, Channels: max(c.ChannelCount, 1)}
				d.r.OnDataOpus(t, d.onOpus(d.addTrack(tr)))
				continue
			}
		}
		d.dropped = append(d.dropped, codecName(t.Codec))
	}
	if len(d.tracks) == 0 {
		return nil, fmt.Errorf("%w (found: %s)", ErrUnsupported, strings.Join(d.dropped, ", "))
	}
	return d, nil
}

// codecName names a track diemcau leaves out, for the technician.
func codecName(c mpegts.Codec) string {
	switch c.(type) {
	case *mpegts.CodecH264:
		return "a second H.264 video"
	case *mpegts.CodecH265:
		return "a second H.265 video"
	case *mpegts.CodecMPEG4Audio, *mpegts.CodecOpus:
		return "a second audio"
	case *mpegts.CodecMPEG1Audio:
		return "MPEG-1 audio (mp2)"
	case *mpegts.CodecMPEG4AudioLATM:
		return "AAC LATM"
	case *mpegts.CodecAC3:
		return "AC-3"
	case *mpegts.CodecMPEG1Video:
		return "MPEG-1/2 video"
	case *mpegts.CodecMPEG4Video:
		return "MPEG-4 Part 2 video"
	case *mpegts.CodecKLV:
		return "KLV metadata"
	case *mpegts.CodecDVBSubtitle:
		return "DVB subtitles"
	}
	return "an unsupported stream"
}

func (d *demuxer) addTrack(t *pipeline.Track) int {
	t.Index = len(d.tracks)
	d.tracks = append(d.tracks, t)
	return t.Index
}

func (d *demuxer) addVideo(codec pipeline.Codec) {
	d.video = &videoState{codec: codec}
	d.video.idx = d.addTrack(&pipeline.Track{Codec: codec})
}

// run reads until the connection ends or the stream breaks.
func (d *demuxer) run() error {
	for {
		if err := d.r.Read(); err != nil {
			return err
		}
	}
}

// ts converts a 90 kHz timestamp to the connection's timeline.
func (d *demuxer) ts(v int64) time.Duration {
	v = d.td.Decode(v)
	return time.Duration(v) * time.Second / tsClock
}

func (d *demuxer) countError(err error) { d.onError(err) }

// publish sends the tracks out, once and at every change of parameters.
func (d *demuxer) publish() {
	tracks := make([]*pipeline.Track, len(d.tracks))
	copy(tracks, d.tracks)
	d.out.setTracks(tracks)
	d.published = true
}

func (d *demuxer) onH264(pts, dts int64, au [][]byte) error {
	v := d.video
	au, in := h26x.SplitH264(au)
	sps, pps := in.SPS, in.PPS
	if (sps != nil && !bytes.Equal(sps, v.sps)) || (pps != nil && !bytes.Equal(pps, v.pps)) {
		if sps != nil {
			v.sps = bytes.Clone(sps)
		}
		if pps != nil {
			v.pps = bytes.Clone(pps)
		}
		t, err := ingest.H264Track(v.sps, v.pps)
		if err != nil {
			d.countError(err)
		}
		d.replaceVideo(t)
	}
	return d.videoFrame(au, in.Key, [][]byte{v.sps, v.pps}, pts, dts)
}

func (d *demuxer) onH265(pts, dts int64, au [][]byte) error {
	v := d.video
	au, in := h26x.SplitH265(au)
	vps, sps, pps := in.VPS, in.SPS, in.PPS
	changed := false
	for _, p := range []struct{ in, cur *[]byte }{{&vps, &v.vps}, {&sps, &v.sps}, {&pps, &v.pps}} {
		if *p.in != nil && !bytes.Equal(*p.in, *p.cur) {
			*p.cur = bytes.Clone(*p.in)
			changed = true
		}
	}
	if changed {
		t, err := ingest.H265Track(v.vps, v.sps, v.pps)
		if err != nil {
			d.countError(err)
		}
		d.replaceVideo(t)
	}
	return d.videoFrame(au, in.Key, [][]byte{v.vps, v.sps, v.pps}, pts, dts)
}

// replaceVideo publishes new parameter sets as a new track (a Track is
// immutable once out).
func (d *demuxer) replaceVideo(t *pipeline.Track) {
	t.Index = d.video.idx
	d.tracks[d.video.idx] = t
	if d.published {
		d.publish()
	}
}

// videoFrame finishes an access unit: a keyframe gets the parameter sets
// in front so any keyframe can start a decoder; frames before the first
// keyframe are dropped, no decoder could use them.
func (d *demuxer) videoFrame(au [][]byte, key bool, params [][]byte, pts, dts int64) error {
	if len(au) == 0 {
		return nil
	}
	v := d.video
	if key {
		for _, p := range params {
			if p == nil {
				d.countError(fmt.Errorf("%s keyframe without parameter sets", v.codec))
				return nil
			}
		}
		full := make([][]byte, 0, len(params)+len(au))
		full = append(append(full, params...), au...)
		au = full
		v.synced = true
	} else if !v.synced {
		return nil
	}
	if !d.published {
		d.publish()
	}
	d.out.frame(&pipeline.Frame{
		Track: d.tracks[v.idx],
		PTS:   d.ts(pts),
		DTS:   d.ts(dts),
		Wall:  time.Now(),
		Key:   key,
		NALUs: au,
	})
	return nil
}

// audioReady says whether audio may go out: once the tracks are published,
// or at once in a stream without video.
func (d *demuxer) audioReady() bool {
	if !d.published && d.video == nil {
		d.publish()
	}
	return d.published
}

func (d *demuxer) onAAC(idx int, samples int64) mpegts.ReaderOnDataMPEG4AudioFunc {
	return func(pts int64, aus [][]byte) error {
		if !d.audioReady() {
			return nil
		}
		t := d.tracks[idx]
		now := time.Now()
		for i, au := range aus {
			if len(au) == 0 {
				continue
			}
			p := d.ts(pts + int64(i)*samples*tsClock/int64(max(t.SampleRate, 1)))
			d.out.frame(&pipeline.Frame{Track: t, PTS: p, DTS: p, Wall: now, Payload: au})
		}
		return nil
	}
}

func (d *demuxer) onOpus(idx int) mpegts.ReaderOnDataOpusFunc {
	return func(pts int64, packets [][]byte) error {
		if !d.audioReady() {
			return nil
		}
		t := d.tracks[idx]
		now := time.Now()
		var off int64 // in 48 kHz samples
		for _, pkt := range packets {
			if len(pkt) == 0 {
				continue
			}
			p := d.ts(pts + off*tsClock/48000)
			off += opus.PacketDuration2(pkt)
			d.out.frame(&pipeline.Frame{Track: t, PTS: p, DTS: p, Wall: now, Payload: pkt})
		}
		return nil
	}
}

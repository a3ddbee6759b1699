package avsync

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"

	"diemcau/pipeline"
	"diemcau/pipeline/h26x"
)

// The meter reads a WebRTC output by recording what a viewer receives to
// an MP4 for ffmpeg; the LiveKit interop test's viewer (lkread) records a
// room the same way. What follows is what the two share.

// MuxTrack is one received track ready for the MP4: its samples with their
// times on the timeline the tracks share.
type MuxTrack struct {
	Codec     mp4.Codec
	TimeScale uint32
	At        []time.Duration // per sample
	Samples   []*fmp4.Sample
}

// RTPClock maps a track's RTP times to the shared timeline, on which RTP
// time ref stands at base (a sender report's NTP time, or an arrival).
// The difference is signed 32-bit: it survives the wrap, and a time before
// ref comes before base.
func RTPClock(base time.Duration, ref, clockRate uint32) func(uint32) time.Duration {
	rate := int64(clockRate)
	return func(ts uint32) time.Duration {
		return base + time.Duration(int64(int32(ts-ref))*int64(time.Second)/rate)
	}
}

// AppendH264 adds an access unit to an H.264 track and returns the track.
// The track starts at the first random access unit that carries its
// parameter sets: before one, m is nil and stays nil (the unit is dropped).
// The samples keep the parameter sets in-band.
func AppendH264(m *MuxTrack, au [][]byte, at time.Duration) *MuxTrack {
	if m == nil {
		in := h26x.Scan(pipeline.H264, au)
		if in.SPS == nil || in.PPS == nil || !in.Key {
			return nil
		}
		m = &MuxTrack{Codec: &mp4.CodecH264{SPS: in.SPS, PPS: in.PPS}, TimeScale: 90000}
	}
	var s fmp4.Sample
	if err := s.FillH264(0, au); err != nil {
		return m
	}
	m.At = append(m.At, at)
	m.Samples = append(m.Samples, &s)
	return m
}

// WriteMP4 writes the tracks as one init and one fragment: each track's
// base time is its first sample's time from the earliest track's start,
// and each sample lasts until the next one (a hole in the sound stays a
// hole in its timestamps). Every track has a sample.
func WriteMP4(file string, tracks []*MuxTrack) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	origin := tracks[0].At[0]
	for _, t := range tracks {
		origin = min(origin, t.At[0])
	}
	init := fmp4.Init{}
	part := fmp4.Part{SequenceNumber: 1}
	for i, t := range tracks {
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{ID: i + 1, TimeScale: t.TimeScale, Codec: t.Codec})
		ticks := func(d time.Duration) int64 { return int64(d-origin) * int64(t.TimeScale) / int64(time.Second) }
		for j, s := range t.Samples {
			next := ticks(t.At[j]) + int64(t.TimeScale)/50 // the last sample: 20 ms
			if j+1 < len(t.Samples) {
				next = ticks(t.At[j+1])
			}
			s.Duration = uint32(max(1, next-ticks(t.At[j])))
		}
		part.Tracks = append(part.Tracks, &fmp4.PartTrack{ID: i + 1, BaseTime: uint64(max(0, ticks(t.At[0]))), Samples: t.Samples})
	}
	if err := init.Marshal(f); err != nil {
		return fmt.Errorf("mp4: %w", err)
	}
	if err := part.Marshal(f); err != nil {
		return fmt.Errorf("mp4: %w", err)
	}
	return f.Close()
}

// InOrder sorts a track's packets by sequence number (a retransmitted
// packet comes late) and drops duplicates; seq reads a packet's number.
func InOrder[P any](pkts []P, seq func(P) uint16) []P {
	type seqd struct {
		ext int64
		p   P
	}
	out := make([]seqd, 0, len(pkts))
	var ext int64
	for i, p := range pkts {
		if i == 0 {
			ext = int64(seq(p))
		} else {
			ext += int64(int16(seq(p) - seq(pkts[i-1])))
		}
		out = append(out, seqd{ext, p})
	}
	slices.SortStableFunc(out, func(a, b seqd) int { return int(a.ext - b.ext) })
	res := make([]P, 0, len(out))
	for i, s := range out {
		if i > 0 && s.ext == out[i-1].ext {
			continue
		}
		res = append(res, s.p)
	}
	return res
}

package camsim

import (
	"context"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/pion/rtp"

	"diemcau/pipeline/gst"
)

// recorder is a PacketWriter that keeps copies of what it gets.
type recorder struct{ pkts []rtp.Packet }

func (r *recorder) WritePacketRTPWithNTP(_ *description.Media, p *rtp.Packet, _ time.Time) error {
	r.pkts = append(r.pkts, *p)
	return nil
}

type discard struct{}

func (discard) WritePacketRTPWithNTP(*description.Media, *rtp.Packet, time.Time) error { return nil }

func encodeTestLoop(t testing.TB, fps int, audio gst.AudioCodec) *gst.Loop {
	t.Helper()
	if !gst.HasElement("x264enc") {
		t.Skip("x264enc not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := gst.EncodeLoop(ctx, gst.LoopConfig{
		TestPicture: gst.TestPicture{Width: 320, Height: 180, FPS: fps},
		BitrateKbps: 500, Audio: audio,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestPacketLoop(t *testing.T) {
	l := encodeTestLoop(t, 10, gst.AudioOpus)
	const mtu = 400
	pl, err := NewPacketLoop(l, mtu)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Video.Frames) != 20 || pl.GOP != 20 || pl.Audio == nil {
		t.Fatalf("loop: %d frames, GOP %d, audio %v", len(pl.Video.Frames), pl.GOP, pl.Audio != nil)
	}
	for i, f := range pl.Video.Frames {
		for j, p := range f.Packets {
			if n := p.MarshalSize(); n > mtu {
				t.Fatalf("frame %d packet %d: %d bytes, over the %d MTU", i, j, n, mtu)
			}
			if last := j == len(f.Packets)-1; p.Marker != last {
				t.Fatalf("frame %d packet %d: marker %v", i, j, p.Marker)
			}
		}
	}
	if !pl.Video.Frames[0].Key || len(pl.Video.Frames[0].Packets) < 2 {
		t.Errorf("the IDR should open the loop and need several %d-byte packets", mtu)
	}

	// Timing: 10 fps is 9000 ticks a frame; Opus 960 samples at 48 kHz.
	if pl.Video.Ticks(25) != 225000 || pl.Video.Time(25) != 2500*time.Millisecond {
		t.Errorf("video frame 25 at %d ticks, %v", pl.Video.Ticks(25), pl.Video.Time(25))
	}
	if pl.Audio.Ticks(3) != 2880 || pl.Audio.Time(3) != 60*time.Millisecond {
		t.Errorf("audio frame 3 at %d ticks, %v", pl.Audio.Ticks(3), pl.Audio.Time(3))
	}
	for _, d := range []time.Duration{0, time.Millisecond, 100 * time.Millisecond, 99 * time.Millisecond, 36 * time.Hour} {
		n := pl.Video.FrameAt(d)
		if pl.Video.Time(n) < d || (n > 0 && pl.Video.Time(n-1) >= d) {
			t.Errorf("FrameAt(%v) = %d", d, n)
		}
	}
	if d := pl.Description(); len(d.Medias) != 2 || d.Medias[0] == pl.Description().Medias[0] {
		t.Error("Description must be fresh per call with video and audio")
	}
}

func TestReplayer(t *testing.T) {
	l := encodeTestLoop(t, 10, gst.AudioNone)
	pl, err := NewPacketLoop(l, DefaultMTU)
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	tsBase := uint32(4294960000) // near the top: timestamps must wrap
	r := NewReplayer(pl.Video, nil, tsBase, 65530, 7)
	r.AlignToKeyframe(100, pl.GOP)
	for n := int64(100); n < 145; n++ { // crosses the 20-frame loop twice
		if _, err := r.WriteFrame(&rec, n, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if !pl.Video.Frames[r.frameIndex(100)].Key {
		t.Fatal("AlignToKeyframe did not put an IDR at frame 100")
	}
	for i := 1; i < len(rec.pkts); i++ {
		if rec.pkts[i].SequenceNumber != rec.pkts[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d: sequence %d after %d", i, rec.pkts[i].SequenceNumber, rec.pkts[i-1].SequenceNumber)
		}
		d := rec.pkts[i].Timestamp - rec.pkts[i-1].Timestamp // wraps around uint32 as RTP does
		if d != 0 && d != 9000 {
			t.Fatalf("packet %d: timestamp step %d", i, d)
		}
		if d == 9000 && !rec.pkts[i-1].Marker {
			t.Fatalf("packet %d: new frame without a marker on the last", i)
		}
	}
	if got, want := rec.pkts[0].Timestamp, tsBase+uint32(100*9000); got != want {
		t.Errorf("first timestamp %d", got)
	}
	// The replay writes into one reused packet: no allocation per packet.
	n := int64(0)
	if a := testing.AllocsPerRun(200, func() { r.WriteFrame(discard{}, n, time.Time{}); n++ }); a != 0 {
		t.Errorf("%v allocations per frame", a)
	}
}

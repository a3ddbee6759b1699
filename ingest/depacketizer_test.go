package ingest

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// cameraClockOffset stands for the arbitrary start of a camera's clock: the
// depacketizer must rebase it to zero.
const cameraClockOffset = 7_654_321

type timedPacket struct {
	pkt *rtp.Packet
	pts int64
}

// packetizeVideo turns a clip's access units into RTP packets as a camera
// would send them.
func packetizeVideo(t testing.TB, hevc bool, aus [][][]byte, pts []int64) []timedPacket {
	t.Helper()
	var out []timedPacket
	var enc interface {
		Encode([][]byte) ([]*rtp.Packet, error)
	}
	if hevc {
		e := &rtph265.Encoder{PayloadType: 96}
		if err := e.Init(); err != nil {
			t.Fatal(err)
		}
		enc = e
	} else {
		e := &rtph264.Encoder{PayloadType: 96, PacketizationMode: 1}
		if err := e.Init(); err != nil {
			t.Fatal(err)
		}
		enc = e
	}
	for i, au := range aus {
		pkts, err := enc.Encode(au)
		if err != nil {
			t.Fatal(err)
		}
		p := pts[i] + cameraClockOffset
		for _, pkt := range pkts {
			pkt.Timestamp = uint32(p)
			out = append(out, timedPacket{pkt: pkt, pts: p})
		}
	}
	return out
}

func videoSession(hevc bool, vps, sps, pps []byte) *description.Session {
	var f format.Format = &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps}
	if hevc {
		f = &format.H265{PayloadTyp: 96, VPS: vps, SPS: sps, PPS: pps}
	}
	return &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{f}}}}
}

func feed(d *Depacketizer, m *description.Media, pkts []timedPacket) []*pipeline.Frame {
	var frames []*pipeline.Frame
	for _, p := range pkts {
		frames = append(frames, d.HandlePacket(m, p.pkt, p.pts, time.Time{})...)
	}
	return frames
}

func isParamSet(hevc bool, nalu []byte) bool {
	if hevc {
		switch h265.NALUType((nalu[0] >> 1) & 0x3F) {
		case h265.NALUType_VPS_NUT, h265.NALUType_SPS_NUT, h265.NALUType_PPS_NUT:
			return true
		}
		return false
	}
	switch h264.NALUType(nalu[0] & 0x1F) {
	case h264.NALUTypeSPS, h264.NALUTypePPS:
		return true
	}
	return false
}

func TestDepacketizerVideo(t *testing.T) {
	cases := []struct {
		name        string
		spec        clipSpec
		paramsIn    string // "sdp": only in the SDP; "band": only in-band; "both"
		wantCodec   pipeline.Codec
		wantReorder bool
	}{
		{name: "h264 params in band and sdp", spec: clipSpec{}, paramsIn: "both", wantCodec: pipeline.H264},
		{name: "h264 params only in sdp", spec: clipSpec{}, paramsIn: "sdp", wantCodec: pipeline.H264},
		{name: "h264 params only in band", spec: clipSpec{}, paramsIn: "band", wantCodec: pipeline.H264},
		{name: "h264 b-frames", spec: clipSpec{bframes: true}, paramsIn: "both", wantCodec: pipeline.H264, wantReorder: true},
		{name: "h265", spec: clipSpec{hevc: true}, paramsIn: "both", wantCodec: pipeline.H265},
		{name: "h265 params only in sdp", spec: clipSpec{hevc: true}, paramsIn: "sdp", wantCodec: pipeline.H265},
		{name: "h265 b-frames", spec: clipSpec{hevc: true, bframes: true}, paramsIn: "band", wantCodec: pipeline.H265, wantReorder: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clip := loadClip(t, tc.spec)
			stripped, vps, sps, pps := clip.withoutParams()
			aus := clip.aus
			if tc.paramsIn == "sdp" {
				aus = stripped
			}
			var desc *description.Session
			if tc.paramsIn == "band" {
				desc = videoSession(clip.hevc, nil, nil, nil)
			} else {
				desc = videoSession(clip.hevc, vps, sps, pps)
			}
			d, err := NewDepacketizer("cam", desc)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Medias()) != 1 {
				t.Fatalf("medias = %d, want 1", len(d.Medias()))
			}
			frames := feed(d, d.Medias()[0], packetizeVideo(t, clip.hevc, aus, clip.pts))

			if d.Errors() != 0 {
				t.Errorf("errors = %d (last: %s), want 0", d.Errors(), d.LastError())
			}
			if len(frames) != len(clip.aus) {
				t.Fatalf("frames = %d, want %d", len(frames), len(clip.aus))
			}
			changed := d.TracksChanged()
			if want := tc.paramsIn == "band"; changed != want {
				t.Errorf("TracksChanged = %v, want %v", changed, want)
			}
			if d.TracksChanged() {
				t.Error("TracksChanged reported twice")
			}
			tr := d.Tracks()[0]
			if tr.Codec != tc.wantCodec || tr.Width != 320 || tr.Height != 180 {
				t.Errorf("track = %s %dx%d, want %s 320x180", tr.Codec, tr.Width, tr.Height, tc.wantCodec)
			}
			if tr.Profile == "" || tr.FPS != 25 {
				t.Errorf("track profile %q fps %v, want a profile and 25 fps", tr.Profile, tr.FPS)
			}
			if frames[0].PTS > 200*time.Millisecond || frames[0].PTS < 0 {
				t.Errorf("first PTS = %v, want near zero (rebased)", frames[0].PTS)
			}

			keys, reordered := 0, false
			for i, f := range frames {
				if f.Track != tr {
					t.Fatalf("frame %d has track %p, want the current track %p", i, f.Track, tr)
				}
				if f.DTS > f.PTS {
					t.Errorf("frame %d: DTS %v > PTS %v", i, f.DTS, f.PTS)
				}
				if i > 0 {
					if f.DTS < frames[i-1].DTS {
						t.Errorf("frame %d: DTS %v goes back from %v", i, f.DTS, frames[i-1].DTS)
					}
					if f.PTS < frames[i-1].PTS {
						reordered = true
					}
				}
				want := time.Duration(clip.pts[i]-clip.pts[0]) * time.Second / 90000
				if diff := f.PTS - want; diff < -time.Millisecond || diff > time.Millisecond {
					t.Errorf("frame %d: PTS %v, want %v", i, f.PTS, want)
				}
				hasParams := len(f.NALUs) > 0 && isParamSet(clip.hevc, f.NALUs[0])
				if f.Key {
					keys++
					wantN := 2
					if clip.hevc {
						wantN = 3
					}
					if len(f.NALUs) <= wantN || !hasParams || !isParamSet(clip.hevc, f.NALUs[wantN-1]) {
						t.Errorf("keyframe %d does not start with its %d parameter sets", i, wantN)
					}
				} else if hasParams {
					t.Errorf("frame %d is not a keyframe but carries parameter sets", i)
				}
			}
			if !frames[0].Key {
				t.Error("first frame is not a keyframe")
			}
			if keys != 2 {
				t.Errorf("keyframes = %d, want 2 (2 s at GOP 1 s)", keys)
			}
			if reordered != tc.wantReorder {
				t.Errorf("reordered PTS = %v, want %v", reordered, tc.wantReorder)
			}
		})
	}
}

// A decoder joining mid-stream gets nothing until the first keyframe: frames
// before it cannot be decoded.
func TestDepacketizerWaitsForKeyframe(t *testing.T) {
	clip := loadClip(t, clipSpec{})
	_, _, sps, pps := clip.withoutParams()
	d, err := NewDepacketizer("cam", videoSession(false, nil, sps, pps))
	if err != nil {
		t.Fatal(err)
	}
	const skip = 5 // join 5 frames into the first GOP
	frames := feed(d, d.Medias()[0], packetizeVideo(t, false, clip.aus[skip:], clip.pts[skip:]))
	if len(frames) != len(clip.aus)-clip.fps {
		t.Fatalf("frames = %d, want %d (from the second GOP on)", len(frames), len(clip.aus)-clip.fps)
	}
	if !frames[0].Key {
		t.Error("first frame is not a keyframe")
	}
}

// Cameras that never set the marker bit: access units are cut when the RTP
// timestamp changes, and each keeps its own timestamp.
func TestDepacketizerWithoutMarker(t *testing.T) {
	clip := loadClip(t, clipSpec{})
	d, err := NewDepacketizer("cam", videoSession(false, nil, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	pkts := packetizeVideo(t, false, clip.aus, clip.pts)
	for _, p := range pkts {
		p.pkt.Marker = false
	}
	frames := feed(d, d.Medias()[0], pkts)
	// The last unit stays pending: nothing tells it is complete.
	if len(frames) != len(clip.aus)-1 {
		t.Fatalf("frames = %d, want %d", len(frames), len(clip.aus)-1)
	}
	step := time.Second / time.Duration(clip.fps)
	for i := 1; i < len(frames); i++ {
		if got := frames[i].PTS - frames[i-1].PTS; got != step {
			t.Fatalf("frame %d: PTS step %v, want %v", i, got, step)
		}
	}
}

func TestDepacketizerAAC(t *testing.T) {
	clip := loadClip(t, clipSpec{audio: true})
	f := &format.MPEG4Audio{PayloadTyp: 97, Config: clip.aacConf, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeAudio, Formats: []format.Format{f}}}}
	d, err := NewDepacketizer("cam", desc)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := f.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	// Three units per packet, as many cameras do.
	var frames []*pipeline.Frame
	for i := 0; i+3 <= len(clip.aac); i += 3 {
		pkts, err := enc.Encode(clip.aac[i : i+3])
		if err != nil {
			t.Fatal(err)
		}
		ts := int64(i*1024) + cameraClockOffset
		for _, pkt := range pkts {
			pkt.Timestamp += uint32(ts)
			frames = append(frames, d.HandlePacket(d.Medias()[0], pkt, ts, time.Time{})...)
		}
	}
	if d.Errors() != 0 {
		t.Fatalf("errors = %d: %s", d.Errors(), d.LastError())
	}
	if want := len(clip.aac) / 3 * 3; len(frames) != want {
		t.Fatalf("frames = %d, want %d", len(frames), want)
	}
	tr := d.Tracks()[0]
	if tr.Codec != pipeline.AAC || tr.SampleRate != 48000 || tr.Channels != 1 || len(tr.Config) == 0 {
		t.Errorf("track = %+v", tr)
	}
	step := time.Second * 1024 / 48000
	for i, fr := range frames {
		want := time.Duration(i) * step
		if d := fr.PTS - want; d < -time.Microsecond || d > time.Microsecond {
			t.Fatalf("frame %d: PTS %v, want %v", i, fr.PTS, want)
		}
		if !bytes.Equal(fr.Payload, clip.aac[i]) {
			t.Fatalf("frame %d: payload differs", i)
		}
	}
}

func TestDepacketizerSimpleAudio(t *testing.T) {
	cases := []struct {
		name  string
		f     format.Format
		codec pipeline.Codec
		rate  int
		step  uint32
	}{
		{name: "pcmu", f: &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}, codec: pipeline.PCMU, rate: 8000, step: 160},
		{name: "pcma", f: &format.G711{PayloadTyp: 8, SampleRate: 8000, ChannelCount: 1}, codec: pipeline.PCMA, rate: 8000, step: 160},
		{name: "opus", f: &format.Opus{PayloadTyp: 111, ChannelCount: 2}, codec: pipeline.Opus, rate: 48000, step: 960},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeAudio, Formats: []format.Format{tc.f}}}}
			d, err := NewDepacketizer("cam", desc)
			if err != nil {
				t.Fatal(err)
			}
			var frames []*pipeline.Frame
			for i := range 50 {
				ts := int64(uint32(i)*tc.step) + cameraClockOffset
				pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: tc.f.PayloadType(), SequenceNumber: uint16(i), Timestamp: uint32(ts)},
					Payload: bytes.Repeat([]byte{byte(i)}, 160)}
				frames = append(frames, d.HandlePacket(d.Medias()[0], pkt, ts, time.Time{})...)
			}
			if len(frames) != 50 || d.Errors() != 0 {
				t.Fatalf("frames = %d errors = %d, want 50 and 0", len(frames), d.Errors())
			}
			tr := d.Tracks()[0]
			if tr.Codec != tc.codec || tr.SampleRate != tc.rate {
				t.Errorf("track = %s %d Hz, want %s %d Hz", tr.Codec, tr.SampleRate, tc.codec, tc.rate)
			}
			if want := 49 * time.Duration(tc.step) * time.Second / time.Duration(tc.rate); frames[49].PTS != want {
				t.Errorf("last PTS = %v, want %v", frames[49].PTS, want)
			}
		})
	}
}

func TestDepacketizerCodecChoice(t *testing.T) {
	mpeg4v := &format.MPEG4Video{PayloadTyp: 96}
	h264f := &format.H264{PayloadTyp: 97, PacketizationMode: 1}
	mjpeg := &format.MJPEG{}
	cases := []struct {
		name      string
		medias    []*description.Media
		wantErr   string
		wantCount int
	}{
		{name: "only mpeg-4 video", medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{mpeg4v}}},
			wantErr: "unsupported codec MPEG-4 Video"},
		{name: "mjpeg and mpeg-4 video", medias: []*description.Media{
			{Type: description.MediaTypeVideo, Formats: []format.Format{mjpeg}},
			{Type: description.MediaTypeVideo, Formats: []format.Format{mpeg4v}},
		}, wantErr: "unsupported codec M-JPEG, MPEG-4 Video"},
		{name: "no media", wantErr: "no media"},
		{name: "h264 beside mpeg-4 video", medias: []*description.Media{
			{Type: description.MediaTypeVideo, Formats: []format.Format{mpeg4v}},
			{Type: description.MediaTypeVideo, Formats: []format.Format{h264f}},
		}, wantCount: 1},
		{name: "h264 packetization mode 2", medias: []*description.Media{
			{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 2}}},
		}, wantErr: "unsupported codec H264 (PacketizationMode >= 2"},
		{name: "back channel ignored", medias: []*description.Media{
			{Type: description.MediaTypeVideo, Formats: []format.Format{h264f}},
			{Type: description.MediaTypeAudio, IsBackChannel: true, Formats: []format.Format{&format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}}},
		}, wantCount: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDepacketizer("cam", &description.Session{Medias: tc.medias})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrNoSupportedCodec) {
					t.Fatalf("err = %v, want one containing %q and wrapping ErrNoSupportedCodec", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Medias()) != tc.wantCount || len(d.Tracks()) != tc.wantCount {
				t.Errorf("medias %d tracks %d, want %d", len(d.Medias()), len(d.Tracks()), tc.wantCount)
			}
		})
	}
}

// Damaged or hostile packets are counted, never a panic, and the stream
// recovers at the next keyframe.
func TestDepacketizerGarbage(t *testing.T) {
	clip := loadClip(t, clipSpec{})
	for _, hevc := range []bool{false, true} {
		d, err := NewDepacketizer("cam", videoSession(hevc, nil, nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		m := d.Medias()[0]
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 2000 {
			payload := make([]byte, rng.IntN(64))
			for j := range payload {
				payload[j] = byte(rng.Uint32())
			}
			pkt := &rtp.Packet{Header: rtp.Header{PayloadType: 96, SequenceNumber: uint16(i), Timestamp: uint32(i * 3000), Marker: rng.IntN(2) == 0}, Payload: payload}
			d.HandlePacket(m, pkt, int64(i*3000), time.Time{})
		}
		if d.Errors() == 0 {
			t.Errorf("hevc=%v: no errors counted for 2000 random packets", hevc)
		}
		if hevc {
			continue
		}
		// Good video after the garbage still comes through.
		pts := make([]int64, len(clip.pts))
		for i := range pts {
			pts[i] = clip.pts[i] + 2000*3000
		}
		frames := feed(d, m, packetizeVideo(t, false, clip.aus, pts))
		if len(frames) < len(clip.aus)-clip.fps {
			t.Errorf("after garbage: %d frames, want at least %d", len(frames), len(clip.aus)-clip.fps)
		}
	}
}

// A camera that reconnects unchanged keeps its *Track pointers, so readers
// see no change; one that comes back different gets new tracks.
func TestDepacketizerKeepTracks(t *testing.T) {
	clip := loadClip(t, clipSpec{})
	first, err := NewDepacketizer("cam", videoSession(false, nil, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	feed(first, first.Medias()[0], packetizeVideo(t, false, clip.aus, clip.pts))
	prev := first.Tracks()
	if prev[0].Width != 320 {
		t.Fatalf("first connection track = %+v", prev[0])
	}

	cases := []struct {
		name     string
		desc     *description.Session
		wantSame bool
	}{
		{name: "same camera, parameters in-band", desc: videoSession(false, nil, nil, nil), wantSame: true},
		{name: "same camera, parameters in sdp", desc: videoSession(false, nil, prev[0].SPS, prev[0].PPS), wantSame: true},
		{name: "camera switched to h265", desc: videoSession(true, nil, nil, nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDepacketizer("cam", tc.desc)
			if err != nil {
				t.Fatal(err)
			}
			d.KeepTracks(prev)
			if same := d.Tracks()[0] == prev[0]; same != tc.wantSame {
				t.Fatalf("track reused = %v, want %v", same, tc.wantSame)
			}
			if !tc.wantSame {
				return
			}
			frames := feed(d, d.Medias()[0], packetizeVideo(t, false, clip.aus, clip.pts))
			if d.TracksChanged() || len(frames) == 0 || frames[0].Track != prev[0] {
				t.Errorf("after reconnect: changed=%v, %d frames, want the previous track and no change", d.TracksChanged(), len(frames))
			}
		})
	}
}

func TestDepacketizerLATM(t *testing.T) {
	conf := &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 2}
	smc := &mpeg4audio.StreamMuxConfig{Programs: []*mpeg4audio.StreamMuxConfigProgram{{
		Layers: []*mpeg4audio.StreamMuxConfigLayer{{AudioSpecificConfig: conf, LatmBufferFullness: 255}},
	}}}
	f := &format.MPEG4AudioLATM{PayloadTyp: 96, ProfileLevelID: 30, StreamMuxConfig: smc}
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeAudio, Formats: []format.Format{f}}}}
	d, err := NewDepacketizer("cam", desc)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := f.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	var frames []*pipeline.Frame
	for i := range 20 {
		au := bytes.Repeat([]byte{byte(i + 1)}, 200)
		el := mpeg4audio.AudioMuxElement{StreamMuxConfig: smc, Payloads: [][][][]byte{{{au}}}}
		buf, err := el.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		pkts, err := enc.Encode(buf)
		if err != nil {
			t.Fatal(err)
		}
		ts := int64(i * 1024)
		for _, p := range pkts {
			p.Timestamp = uint32(ts)
			frames = append(frames, d.HandlePacket(d.Medias()[0], p, ts, time.Time{})...)
		}
	}
	if len(frames) != 20 || d.Errors() != 0 {
		t.Fatalf("frames = %d errors = %d (%s), want 20 and 0", len(frames), d.Errors(), d.LastError())
	}
	tr := d.Tracks()[0]
	if tr.Codec != pipeline.AAC || tr.SampleRate != 48000 || tr.Channels != 2 {
		t.Errorf("track = %+v", tr)
	}
	if !bytes.Equal(frames[19].Payload, bytes.Repeat([]byte{20}, 200)) || frames[19].PTS != 19*1024*time.Second/48000 {
		t.Errorf("last frame: PTS %v, payload %x…", frames[19].PTS, frames[19].Payload[:4])
	}
}

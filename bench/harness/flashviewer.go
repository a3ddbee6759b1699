package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"diemcau/bench/whepclient"
	"diemcau/pipeline/h26x"
)

// flashViewer is a WHEP viewer that keeps the video it receives during
// the window, each packet with the wall-clock time it arrived. Nothing is
// decoded while the window runs (decoding would load the machine being
// measured); afterwards the frames go into an MP4 whose timestamps are
// their arrival times, and the meter's decoder finds when each flash of
// the avsync pattern reached the viewer.
type flashViewer struct {
	path string
	conn *whepclient.Viewer

	mu        sync.Mutex
	recording bool
	pkts      []arrival
}

// arrival is one RTP packet and when it reached the viewer.
type arrival struct {
	pkt *rtp.Packet
	at  time.Time
}

func dialFlashViewer(ctx context.Context, base, path, token string) (*flashViewer, error) {
	api, err := whepclient.NewAPI()
	if err != nil {
		return nil, err
	}
	v := &flashViewer{path: path}
	conn, err := whepclient.Dial(ctx, api, base, path, token, v.read)
	if err != nil {
		return nil, err
	}
	v.conn = conn
	return v, nil
}

// read keeps the video track's packets while recording; sound is read and
// dropped (the sound's timing is the A/V meter's part).
func (v *flashViewer) read(tr *webrtc.TrackRemote) {
	if tr.Kind() != webrtc.RTPCodecTypeVideo {
		whepclient.EachPacket(tr, func([]byte) {})
		return
	}
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		at := time.Now()
		v.mu.Lock()
		if v.recording {
			v.pkts = append(v.pkts, arrival{pkt, at})
		}
		v.mu.Unlock()
	}
}

// record starts or stops keeping packets.
func (v *flashViewer) record(on bool) {
	v.mu.Lock()
	v.recording = on
	v.mu.Unlock()
}

func (v *flashViewer) close() { v.conn.Close() }

// writeArrivalMP4 puts the recorded frames, from the first keyframe on,
// into an MP4 whose timestamps are the frames' arrival times (the packet
// that completed each frame) from origin, which it returns.
func (v *flashViewer) writeArrivalMP4(file string) (time.Time, int, error) {
	v.mu.Lock()
	pkts := v.pkts
	v.mu.Unlock()
	dec := &rtph264.Decoder{PacketizationMode: 1}
	if err := dec.Init(); err != nil {
		return time.Time{}, 0, err
	}
	var codec *mp4.CodecH264
	var samples []*fmp4.Sample
	var ats []time.Time
	for _, a := range pkts {
		au, err := dec.Decode(a.pkt)
		if err != nil {
			continue // more packets needed, or a frame with one missing
		}
		if codec == nil {
			_, in := h26x.SplitH264(slices.Clone(au)) // the sample keeps them in-band
			if in.SPS == nil || in.PPS == nil || !h264.IsRandomAccess(au) {
				continue
			}
			codec = &mp4.CodecH264{SPS: in.SPS, PPS: in.PPS}
		}
		s := &fmp4.Sample{}
		if err := s.FillH264(0, au); err != nil {
			continue
		}
		samples, ats = append(samples, s), append(ats, a.at)
	}
	if codec == nil || len(samples) < 2 {
		return time.Time{}, 0, fmt.Errorf("whep %s: no whole picture from a keyframe on in %d packets", v.path, len(pkts))
	}
	origin := ats[0]
	ticks := func(t time.Time) int64 { return t.Sub(origin).Microseconds() * 90 / 1000 }
	prev := int64(-1)
	at := make([]int64, len(ats))
	for i, t := range ats {
		at[i] = max(ticks(t), prev+1) // frames completed in the same tick stay in order
		prev = at[i]
	}
	for i, s := range samples {
		next := at[i] + 3000 // the last frame: 1/30 s
		if i+1 < len(samples) {
			next = at[i+1]
		}
		s.Duration = uint32(next - at[i])
	}
	f, err := os.Create(file)
	if err != nil {
		return time.Time{}, 0, err
	}
	defer f.Close()
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: 90000, Codec: codec}}}
	part := fmp4.Part{SequenceNumber: 1, Tracks: []*fmp4.PartTrack{{ID: 1, Samples: samples}}}
	if err := errors.Join(init.Marshal(f), part.Marshal(f)); err != nil {
		return time.Time{}, 0, fmt.Errorf("whep %s: arrival mp4: %w", v.path, err)
	}
	return origin, len(samples), f.Close()
}

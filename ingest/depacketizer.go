package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// ErrNoSupportedCodec is wrapped by NewDepacketizer when a session carries
// no media diemcau can take; the message names the codecs it found.
var ErrNoSupportedCodec = errors.New("unsupported codec")

// mediaDecoder turns the RTP packets of one media into frames.
type mediaDecoder interface {
	// decode returns the frames completed by pkt; pts is in clock-rate units.
	decode(pkt *rtp.Packet, pts int64, wall time.Time) ([]*pipeline.Frame, error)
	// setTrack makes the decoder use t (same codec, from KeepTracks).
	setTrack(t *pipeline.Track)
}

// mediaState is one decoded media: its payload type, clock and decoder.
type mediaState struct {
	media       *description.Media
	payloadType uint8
	clockRate   int64
	dec         mediaDecoder
}

// Depacketizer turns RTP packets of the supported medias of an RTSP session
// into pipeline.Frames. It is used by pull sources and by the RTSP server for
// push ingest. It is safe for concurrent use (gortsplib delivers UDP medias
// on separate goroutines), but frames of one media must come in order.
//
// Frames reference the packets' payloads: callers must not reuse packet
// buffers after HandlePacket (gortsplib does not).
type Depacketizer struct {
	id string

	mu      sync.Mutex
	medias  []*description.Media
	states  []*mediaState
	tracks  []*pipeline.Track
	changed bool

	// base is the PTS of the first packet: frames are rebased on it so the
	// stream's timeline starts near zero whatever the camera's clock says.
	base     time.Duration
	haveBase bool

	errors  atomic.Uint64
	lastErr atomic.Pointer[string]
}

// NewDepacketizer picks, in each media of desc, the first format diemcau
// supports (H.264, H.265, AAC, Opus, G.711). Medias without one are left
// out; when none is left the error wraps ErrNoSupportedCodec and names the
// codecs found. Back channels (audio towards the camera) are ignored.
func NewDepacketizer(id string, desc *description.Session) (*Depacketizer, error) {
	d := &Depacketizer{id: id}
	var found []string
	var firstErr error
	for _, m := range desc.Medias {
		if m.IsBackChannel {
			continue
		}
		var chosen *mediaState
		for _, f := range m.Formats {
			found = append(found, formatName(f))
			if chosen != nil {
				continue
			}
			st, err := d.newMediaState(m, f, len(d.tracks))
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			if st != nil {
				chosen = st
			}
		}
		if chosen != nil {
			d.medias = append(d.medias, m)
			d.states = append(d.states, chosen)
		}
	}
	if len(d.states) == 0 {
		if len(found) == 0 {
			return nil, fmt.Errorf("ingest %q: %w: the stream has no media", id, ErrNoSupportedCodec)
		}
		if firstErr != nil {
			return nil, fmt.Errorf("ingest %q: %w %s (%v)", id, ErrNoSupportedCodec, strings.Join(dedupe(found), ", "), firstErr)
		}
		return nil, fmt.Errorf("ingest %q: %w %s", id, ErrNoSupportedCodec, strings.Join(dedupe(found), ", "))
	}
	for i, t := range d.tracks {
		t.Index = i
	}
	return d, nil
}

// newMediaState makes the decoder of one format, or nil when the codec is
// not supported; an error means the codec is known but its parameters are not.
func (d *Depacketizer) newMediaState(m *description.Media, f format.Format, trackIdx int) (*mediaState, error) {
	var dec mediaDecoder
	var track *pipeline.Track
	var err error
	switch f := f.(type) {
	case *format.H264:
		dec, track, err = newH264Decoder(d, f, trackIdx)
	case *format.H265:
		dec, track, err = newH265Decoder(d, f, trackIdx)
	case *format.MPEG4Audio:
		dec, track, err = newAACDecoder(d, f, trackIdx)
	case *format.MPEG4AudioLATM:
		dec, track, err = newLATMDecoder(d, f, trackIdx)
	case *format.Opus:
		dec, track, err = newOpusDecoder(d, f, trackIdx)
	case *format.G711:
		dec, track, err = newG711Decoder(d, f, trackIdx)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d.tracks = append(d.tracks, track)
	return &mediaState{media: m, payloadType: f.PayloadType(), clockRate: int64(f.ClockRate()), dec: dec}, nil
}

// Medias returns the medias the depacketizer decodes; set up only these.
func (d *Depacketizer) Medias() []*description.Media {
	return d.medias
}

// Tracks returns the current tracks, one per media of Medias, in order. A
// new *Track replaces an old one when the camera changes its parameter sets.
func (d *Depacketizer) Tracks() []*pipeline.Track {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tracks
}

// TracksChanged reports, once, that Tracks changed since the last call; the
// caller then publishes them (Stream.SetTracks, Tracker.SetTracks).
func (d *Depacketizer) TracksChanged() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.changed
	d.changed = false
	return c
}

// KeepTracks reuses the tracks of a previous connection that carry the same
// codec parameters, so that a camera that reconnects unchanged is not a
// change for readers (they compare *Track pointers, and a change restarts
// decoders and archive segments). A video track whose parameter sets come
// only in-band also takes the previous ones until the camera sends others.
// Call it before the first packet.
func (d *Depacketizer) KeepTracks(prev []*pipeline.Track) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ts := make([]*pipeline.Track, len(d.tracks))
	copy(ts, d.tracks)
	used := make([]bool, len(prev))
	for i, t := range ts {
		for j, p := range prev {
			if used[j] || p == nil || !canReuseTrack(t, p) {
				continue
			}
			used[j] = true
			ts[i] = p
			d.states[i].dec.setTrack(p)
			break
		}
	}
	d.tracks = ts
}

func canReuseTrack(t, p *pipeline.Track) bool {
	if t.Codec != p.Codec {
		return false
	}
	if t.Kind() == pipeline.Video && len(t.SPS) == 0 {
		return len(p.SPS) > 0 // parameters in-band only: assume unchanged until told
	}
	return bytes.Equal(t.VPS, p.VPS) && bytes.Equal(t.SPS, p.SPS) && bytes.Equal(t.PPS, p.PPS) &&
		t.Width == p.Width && t.Height == p.Height && t.Profile == p.Profile && t.FPS == p.FPS &&
		t.SampleRate == p.SampleRate && t.Channels == p.Channels && bytes.Equal(t.Config, p.Config)
}

// Errors counts packets and access units that could not be decoded.
func (d *Depacketizer) Errors() uint64 { return d.errors.Load() }

// LastError is the last decode error, for the once-a-second summary.
func (d *Depacketizer) LastError() string {
	if p := d.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// HandlePacket decodes one RTP packet of medi. pts is the packet's
// presentation time in clock-rate units (gortsplib's PacketPTS2); ntp its
// wall-clock time (zero: now). It returns the frames this packet completed,
// often none. Errors are counted (Errors), not returned: a damaged packet
// must not stop the stream.
func (d *Depacketizer) HandlePacket(medi *description.Media, pkt *rtp.Packet, pts int64, ntp time.Time) []*pipeline.Frame {
	st := d.state(medi)
	if st == nil || pkt.PayloadType != st.payloadType {
		return nil
	}
	if ntp.IsZero() {
		ntp = time.Now()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.haveBase {
		d.base = clockToDuration(pts, st.clockRate)
		d.haveBase = true
	}
	frames, err := st.dec.decode(pkt, pts, ntp)
	if err != nil {
		d.countError(err)
	}
	return frames
}

func (d *Depacketizer) state(medi *description.Media) *mediaState {
	for _, st := range d.states {
		if st.media == medi {
			return st
		}
	}
	return nil
}

func (d *Depacketizer) countError(err error) {
	d.errors.Add(1)
	msg := err.Error()
	d.lastErr.Store(&msg)
}

// timeline converts a timestamp in clock-rate units to the stream's timeline.
// Called with d.mu held.
func (d *Depacketizer) timeline(v, clockRate int64) time.Duration {
	return clockToDuration(v, clockRate) - d.base
}

// replaceTrack publishes new codec parameters of one track. Called with d.mu
// held. The slice is copied because callers may hold the old one.
func (d *Depacketizer) replaceTrack(idx int, t *pipeline.Track) {
	t.Index = idx
	ts := make([]*pipeline.Track, len(d.tracks))
	copy(ts, d.tracks)
	ts[idx] = t
	d.tracks = ts
	d.changed = true
}

// clockToDuration converts clock-rate units to a duration without overflow
// for timestamps of a long-running session.
func clockToDuration(v, clockRate int64) time.Duration {
	if clockRate <= 0 {
		return 0
	}
	secs := v / clockRate
	rem := v % clockRate
	return time.Duration(secs)*time.Second + time.Duration(rem*int64(time.Second)/clockRate)
}

// formatName names a format for users ("H264", "MPEG-4 Video", "LPCM").
func formatName(f format.Format) string {
	if g, ok := f.(*format.Generic); ok {
		if rtpmap := g.RTPMap(); rtpmap != "" {
			name, _, _ := strings.Cut(rtpmap, "/")
			return name
		}
		return fmt.Sprintf("payload type %d", g.PayloadType())
	}
	return f.Codec()
}

func dedupe(names []string) []string {
	var out []string
	for _, n := range names {
		dup := false
		for _, o := range out {
			if o == n {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out
}

package ingest

import (
	"sync"
	"sync/atomic"
	"time"

	"diemcau/pipeline"
)

// bitrateWindow is how far back the bitrate and fps figures look.
const bitrateWindow = 3 * time.Second

// Tracker keeps one source's Status up to date. Every kind of source (pull,
// push, sim) feeds one; it is safe for concurrent use and cheap per frame.
type Tracker struct {
	id, name, url, transport string

	frames     atomic.Uint64
	lost       atomic.Uint64
	reconnects atomic.Uint64
	lastFrame  atomic.Int64 // unix nanos

	mu     sync.Mutex
	state  State
	errMsg string
	video  *VideoInfo
	audio  *AudioInfo
	// samples of (time, bytes, video frames) for the sliding window.
	winStart  time.Time
	winBytes  uint64
	winVideo  uint64
	rateKbps  float64
	fps       float64
	lastPTS   time.Duration
	havePTS   bool
	reordered bool
	// wall is the camera's clock offset; it outlives reconnections (the
	// camera's clock does not change with the connection).
	wall offsetEstimator
}

// NewTracker makes a tracker in the connecting state. url is redacted here.
func NewTracker(id, name, url string) *Tracker {
	return &Tracker{id: id, name: name, url: RedactURL(url), state: StateConnecting}
}

// SetName changes the source's display name.
func (t *Tracker) SetName(name string) {
	t.mu.Lock()
	t.name = name
	t.mu.Unlock()
}

// SetTransport records the transport in use ("tcp", "udp").
func (t *Tracker) SetTransport(tr string) {
	t.mu.Lock()
	t.transport = tr
	t.mu.Unlock()
}

// SetState moves the source to a state; msg is the reason for offline and
// error (already free of credentials), empty otherwise.
func (t *Tracker) SetState(s State, msg string) {
	t.mu.Lock()
	t.state = s
	t.errMsg = msg
	if s != StateOnline {
		t.rateKbps, t.fps = 0, 0
		t.winStart = time.Time{}
		t.havePTS = false
	}
	t.mu.Unlock()
}

// State returns the current state.
func (t *Tracker) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

// SetTracks records the codec parameters of the source's tracks.
func (t *Tracker) SetTracks(tracks []*pipeline.Track) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.video, t.audio = nil, nil
	t.reordered = false
	for _, tr := range tracks {
		switch tr.Kind() {
		case pipeline.Video:
			t.video = &VideoInfo{Codec: string(tr.Codec), Width: tr.Width, Height: tr.Height, FPS: tr.FPS, Profile: tr.Profile}
		case pipeline.Audio:
			t.audio = &AudioInfo{Codec: string(tr.Codec), SampleRate: tr.SampleRate, Channels: tr.Channels}
		}
	}
}

// Frame counts one frame written to the source's stream.
func (t *Tracker) Frame(f *pipeline.Frame) {
	t.frames.Add(1)
	now := time.Now()
	t.lastFrame.Store(now.UnixNano())

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.winStart.IsZero() {
		t.winStart = now
	}
	t.winBytes += uint64(f.Size())
	if f.Track != nil && f.Track.Kind() == pipeline.Video {
		t.winVideo++
		// B-frames show as a presentation time that goes back.
		if t.havePTS && f.PTS < t.lastPTS {
			t.reordered = true
		}
		t.lastPTS, t.havePTS = f.PTS, true
	}
	if el := now.Sub(t.winStart); el >= bitrateWindow {
		secs := el.Seconds()
		t.rateKbps = float64(t.winBytes) * 8 / 1000 / secs
		t.fps = float64(t.winVideo) / secs
		t.winStart, t.winBytes, t.winVideo = now, 0, 0
	}
}

// SenderReport notes one RTCP sender report: its 64-bit NTP timestamp
// and when it arrived. Cheap and allocation-free; reports come every few
// seconds.
func (t *Tracker) SenderReport(ntp uint64, arrival time.Time) {
	t.mu.Lock()
	t.wall.add(ntp, arrival)
	t.mu.Unlock()
}

// Lost counts RTP packets lost on the way.
func (t *Tracker) Lost(n uint64) { t.lost.Add(n) }

// Reconnected counts a reconnection after the source was lost.
func (t *Tracker) Reconnected() { t.reconnects.Add(1) }

// LastFrame is the time of the last frame, zero if none.
func (t *Tracker) LastFrame() time.Time {
	ns := t.lastFrame.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Status returns a snapshot.
func (t *Tracker) Status() Status {
	t.mu.Lock()
	st := Status{
		ID: t.id, Name: t.name, URL: t.url, Transport: t.transport,
		State: t.state, Error: t.errMsg, BitrateKbps: round1(t.rateKbps),
	}
	if t.video != nil {
		v := *t.video
		if t.fps > 0 {
			v.FPS = round1(t.fps)
		}
		v.BFrames = v.BFrames || t.reordered
		st.Video = &v
	}
	if t.audio != nil {
		a := *t.audio
		st.Audio = &a
	}
	off, offAt, haveOff := t.wall.estimate()
	t.mu.Unlock()
	if haveOff {
		s := roundTo(off.Seconds(), 3)
		offAt = offAt.UTC()
		st.ClockOffsetS, st.ClockOffsetAt = &s, &offAt
	}
	st.Frames = t.frames.Load()
	st.PacketsLost = t.lost.Load()
	st.Reconnects = t.reconnects.Load()
	if lf := t.LastFrame(); !lf.IsZero() {
		lf = lf.UTC()
		st.LastFrameAt = &lf
	}
	return st
}

// round1 rounds half away from zero, negative numbers too, and never
// gives -0.
func round1(v float64) float64 { return roundTo(v, 1) }

package mixer

import (
	"bytes"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// aacLC48kStereo is the AudioSpecificConfig of AAC-LC at 48 kHz stereo,
// what the archive mix is encoded as; published before the encoder's first
// frame so the recorder can write its init segment at once. Run replaces it
// with the installed encoder's own (useAACConfig).
func aacLC48kStereo() []byte { return []byte{0x11, 0x90} }

// outputs are the session's encoded streams. Every stream carries the same
// video track (index 0) and frames; only the audio differs.
type outputs struct {
	name      string
	composite *pipeline.Stream // video + full mix, Opus (WHEP, RTSP)
	archive   *pipeline.Stream // video + full mix, AAC (recorder)
	// low is the low rendition (its own video, the full mix in Opus);
	// nil without one. It is not one of streams: its pictures come from
	// the low rendition's encoder (writeLowVideo).
	low      *pipeline.Stream
	lowVideo *pipeline.Track
	// lowReturns are the return feeds' low renditions by slot (low video
	// + the point's mix-minus), with a low rendition; lowStreams is low
	// and every one of them, what a low picture is written to.
	lowReturns []atomic.Pointer[pipeline.Stream]
	lowStreams atomic.Pointer[[]*pipeline.Stream]
	lowKeyReq  func()
	// returns are the points' return feeds by slot (video + mix-minus,
	// Opus), nil for a free slot.
	returns []atomic.Pointer[pipeline.Stream]
	// streams are composite, archive and every return feed: what a picture
	// is written to. Replaced whole when a point joins or leaves.
	streams atomic.Pointer[[]*pipeline.Stream]
	keyReq  func()
	// runningTime is the composite's running time now (-1 before it
	// runs); wallBase the wall clock at running time 0, unix ns, taken
	// once from it (0 until then).
	runningTime func() time.Duration
	wallBase    atomic.Int64
	// pictureLag is how much later than its time the compositor shows a
	// point's picture on average (pictureLagOf); the mix's sound is
	// stamped that much later to match.
	pictureLag time.Duration
	soundClock soundClock

	mu    sync.Mutex
	video *pipeline.Track
	opus  *pipeline.Track
	aac   *pipeline.Track
}

func newOutputs(cfg Config, log *slog.Logger, keyReq func(), runningTime func() time.Duration) *outputs {
	o := &outputs{
		soundClock:  soundClock{log: log},
		name:        "session/" + cfg.Session,
		returns:     make([]atomic.Pointer[pipeline.Stream], cfg.MaxPoints),
		keyReq:      keyReq,
		runningTime: runningTime,
		pictureLag:  pictureLagOf(cfg.Output.FPS),
		video: &pipeline.Track{Codec: pipeline.H264, Width: cfg.Output.Width, Height: cfg.Output.Height,
			FPS: float64(cfg.Output.FPS)},
		opus: &pipeline.Track{Codec: pipeline.Opus, SampleRate: gst.MixAudioRate, Channels: gst.MixAudioChannels},
		aac: &pipeline.Track{Codec: pipeline.AAC, SampleRate: gst.MixAudioRate, Channels: gst.MixAudioChannels,
			Config: aacLC48kStereo()},
	}
	o.composite = pipeline.NewStream(o.name, o.video, o.opus)
	o.archive = pipeline.NewStream(o.name+"/archive", o.video, o.aac)
	for _, s := range []*pipeline.Stream{o.composite, o.archive} {
		s.SetKeyframeRequester(keyReq)
	}
	if l := cfg.Output.Low; l.Width > 0 {
		o.lowVideo = &pipeline.Track{Codec: pipeline.H264, Width: l.Width, Height: l.Height, FPS: float64(cfg.Output.FPS)}
		o.low = pipeline.NewStream(o.name+"/low", o.lowVideo, o.opus)
		o.lowReturns = make([]atomic.Pointer[pipeline.Stream], cfg.MaxPoints)
	}
	o.restream()
	return o
}

// writeLowVideo sends one picture of the low rendition. A new track (first
// SPS, another encoder) is published first.
func (o *outputs) writeLowVideo(f *pipeline.Frame) {
	o.mu.Lock()
	if f.Track != o.lowVideo {
		o.lowVideo = f.Track
		for _, s := range *o.lowStreams.Load() {
			s.SetTracks([]*pipeline.Track{o.lowVideo, o.opus})
		}
	}
	o.mu.Unlock()
	f.Wall = o.wallOf(f.PTS)
	for _, s := range *o.lowStreams.Load() {
		s.Write(f)
	}
}

// lowReturnFeed is slot's return feed's low rendition, or nil.
func (o *outputs) lowReturnFeed(slot int) *pipeline.Stream {
	if o.lowReturns == nil {
		return nil
	}
	return o.lowReturns[slot].Load()
}

// all is every output stream now; do not modify.
func (o *outputs) all() []*pipeline.Stream { return *o.streams.Load() }

// restream rebuilds the lists of streams a picture goes to. Under mu.
func (o *outputs) restream() {
	if o.low != nil {
		low := []*pipeline.Stream{o.low}
		for i := range o.lowReturns {
			if r := o.lowReturns[i].Load(); r != nil {
				low = append(low, r)
			}
		}
		o.lowStreams.Store(&low)
	}
	all := []*pipeline.Stream{o.composite, o.archive}
	for i := range o.returns {
		if r := o.returns[i].Load(); r != nil {
			all = append(all, r)
		}
	}
	o.streams.Store(&all)
}

// addReturn makes the return feed of the point joining slot.
func (o *outputs) addReturn(slot int, id string) *pipeline.Stream {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := pipeline.NewStream(o.name+"/return/"+id, o.video, o.opus)
	r.SetKeyframeRequester(o.keyReq)
	o.returns[slot].Store(r)
	if o.low != nil {
		l := pipeline.NewStream(o.name+"/return/"+id+"/low", o.lowVideo, o.opus)
		l.SetKeyframeRequester(o.lowKeyReq)
		o.lowReturns[slot].Store(l)
	}
	o.restream()
	return r
}

// closeReturn ends the return feed of the point that left slot; its
// viewers see the stream close.
func (o *outputs) closeReturn(slot int) {
	o.mu.Lock()
	r := o.returns[slot].Swap(nil)
	var l *pipeline.Stream
	if o.lowReturns != nil {
		l = o.lowReturns[slot].Swap(nil)
	}
	o.restream()
	o.mu.Unlock()
	if r != nil {
		r.Close()
	}
	if l != nil {
		l.Close()
	}
}

// returnFeed is slot's return feed, or nil.
func (o *outputs) returnFeed(slot int) *pipeline.Stream { return o.returns[slot].Load() }

// listened reports whether anyone reads slot's return feed (either
// rendition).
func (o *outputs) listened(slot int) bool {
	if r := o.returns[slot].Load(); r != nil && r.Stats().Readers > 0 {
		return true
	}
	l := o.lowReturnFeed(slot)
	return l != nil && l.Stats().Readers > 0
}

// updateListeners has the composite encode each point's mix-minus only
// while its return feed has a reader (a point's decoder, a WHEP viewer):
// checked every tick, so a new listener's sound starts within one.
func (m *Mixer) updateListeners(mix *gst.Mix) {
	for i := range m.cfg.MaxPoints {
		if mix.HasPoint(i) {
			mix.SetMixMinusListened(i, m.out.listened(i))
		}
	}
}

// writeVideo sends one encoded composite picture to every stream. A new
// track (first SPS, or another encoder after a fallback) is published first.
func (o *outputs) writeVideo(f *pipeline.Frame) {
	o.mu.Lock()
	if f.Track != o.video {
		o.video = f.Track
		o.composite.SetTracks([]*pipeline.Track{o.video, o.opus})
		o.archive.SetTracks([]*pipeline.Track{o.video, o.aac})
		for i := range o.returns {
			if r := o.returns[i].Load(); r != nil {
				r.SetTracks([]*pipeline.Track{o.video, o.opus})
			}
		}
	}
	o.mu.Unlock()
	f.Wall = o.wallOf(f.PTS)
	for _, s := range o.all() {
		s.Write(f)
	}
}

// wallOf is the wall-clock time of the composite's running time pts. Every
// output track takes it from this one anchor, so a reader that lines
// tracks up by wall clock (RTSP and WebRTC sender reports, the archive's
// start times) sees picture and sound as they were mixed, not as each
// encoder happened to finish (the video encoder is done about 25 ms after
// a picture's time, the AAC encoder about 70 ms after its sound's).
func (o *outputs) wallOf(pts time.Duration) time.Time {
	base := o.wallBase.Load()
	if base == 0 {
		rt := o.runningTime()
		if rt < 0 {
			return time.Now()
		}
		o.wallBase.CompareAndSwap(0, time.Now().Add(-rt).UnixNano())
		base = o.wallBase.Load()
	}
	return time.Unix(0, base).Add(pts)
}

func (o *outputs) audioFrame(t *pipeline.Track, s gst.Sample) *pipeline.Frame {
	pts := s.PTS - encoderDelay(t) + o.pictureLag
	return &pipeline.Frame{Track: t, PTS: pts, DTS: pts, Wall: o.wallOf(pts), Key: true, Payload: s.Data}
}

// pictureLagOf is half an output frame at fps. The compositor shows each
// point's picture on the first output frame at or after the picture's time,
// so a picture appears between 0 and one output frame late, half a frame on
// average, while the audio mixer places sound to the sample. Without this
// the mix's sound led its pictures by 0 to 33 ms at 30 fps, by a phase that
// changed from run to run: points read from -51 to +39 ms in the end-to-end
// A/V test, against EBU R37's -40 ms for early sound.
func pictureLagOf(fps int) time.Duration {
	if fps <= 0 {
		return 0
	}
	return time.Second / time.Duration(fps) / 2
}

// encoderDelay is how much later than its frame's time a decoder plays the
// sound that went into the encoder at that time: the encoder's priming
// (AAC) or lookahead (Opus), which GStreamer's encoders leave in their first
// frame without moving its timestamp. MP4 files and Ogg streams can say so
// (an edit list, Opus's pre-skip); RTP, WebRTC and our fragmented MP4 do
// not, so the frames are stamped that much earlier instead.
func encoderDelay(t *pipeline.Track) time.Duration {
	rate := t.SampleRate
	if rate <= 0 {
		return 0
	}
	switch t.Codec {
	case pipeline.AAC:
		return 1024 * time.Second / time.Duration(rate) // AAC-LC priming
	case pipeline.Opus:
		return 312 * time.Second / 48000 // opusenc's lookahead (its pre-skip)
	}
	return 0
}

func (o *outputs) writeOpus(s gst.Sample) {
	f := o.audioFrame(o.opus, s)
	o.soundClock.check(f.PTS, o.runningTime())
	o.composite.Write(f)
	if o.low != nil {
		// The same frame: both renditions carry one sound, so a viewer
		// moved between them hears no seam.
		o.low.Write(f)
	}
}

func (o *outputs) writeMixMinus(slot int, s gst.Sample) {
	var f *pipeline.Frame
	if r := o.returns[slot].Load(); r != nil {
		f = o.audioFrame(o.opus, s)
		r.Write(f)
	}
	if l := o.lowReturnFeed(slot); l != nil {
		if f == nil {
			f = o.audioFrame(o.opus, s)
		}
		l.Write(f) // the same frame: one sound for both renditions
	}
}

// useAACConfig publishes the archive's AAC track with the config the
// encoder will write (gst.MixAACConfig), before any frame: a track that
// changed at the first sound, after the recorder had opened a segment at
// the first picture, cost that segment its sound.
func (o *outputs) useAACConfig(asc []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.publishAACLocked(asc, o.aac.SampleRate, o.aac.Channels)
}

// publishAACLocked replaces the archive's AAC track when asc differs from
// the published config. o.mu held.
func (o *outputs) publishAACLocked(asc []byte, rate, channels int) {
	if bytes.Equal(asc, o.aac.Config) {
		return
	}
	o.aac = &pipeline.Track{Codec: pipeline.AAC, SampleRate: rate, Channels: channels, Config: asc}
	o.archive.SetTracks([]*pipeline.Track{o.video, o.aac})
}

// writeAAC sends the archive's audio; the encoder's actual config replaces
// the assumed one if they differ.
func (o *outputs) writeAAC(s gst.Sample) {
	o.mu.Lock()
	if s.Caps != "" {
		if asc, rate, ch, err := gst.ParseAACCaps(s.Caps); err == nil {
			o.publishAACLocked(asc, rate, ch)
		}
	}
	t := o.aac
	o.mu.Unlock()
	o.archive.Write(o.audioFrame(t, s))
}

func (o *outputs) close() {
	for _, s := range o.all() {
		s.Close()
	}
	if o.low != nil {
		for _, s := range *o.lowStreams.Load() {
			s.Close()
		}
	}
}

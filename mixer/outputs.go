package mixer

import (
	"bytes"
	"sync"

	"diemcau/pipeline"
	"diemcau/pipeline/gst"
)

// aacLC48kStereo is the AudioSpecificConfig of AAC-LC at 48 kHz stereo,
// what the archive mix is encoded as; published before the encoder's first
// frame so the recorder can write its init segment at once.
func aacLC48kStereo() []byte { return []byte{0x11, 0x90} }

// outputs are the session's encoded streams. Every stream carries the same
// video track (index 0) and frames; only the audio differs.
type outputs struct {
	composite *pipeline.Stream   // video + full mix, Opus (WHEP, RTSP)
	archive   *pipeline.Stream   // video + full mix, AAC (recorder)
	returns   []*pipeline.Stream // video + mix-minus, Opus (a studio's return feed)

	mu    sync.Mutex
	video *pipeline.Track
	opus  *pipeline.Track
	aac   *pipeline.Track
}

func newOutputs(cfg Config) *outputs {
	o := &outputs{
		video: &pipeline.Track{Codec: pipeline.H264, Width: cfg.Output.Width, Height: cfg.Output.Height,
			FPS: float64(cfg.Output.FPS)},
		opus: &pipeline.Track{Codec: pipeline.Opus, SampleRate: gst.MixAudioRate, Channels: gst.MixAudioChannels},
		aac: &pipeline.Track{Codec: pipeline.AAC, SampleRate: gst.MixAudioRate, Channels: gst.MixAudioChannels,
			Config: aacLC48kStereo()},
	}
	name := "session/" + cfg.Session
	o.composite = pipeline.NewStream(name, o.video, o.opus)
	o.archive = pipeline.NewStream(name+"/archive", o.video, o.aac)
	for _, p := range cfg.Points {
		o.returns = append(o.returns, pipeline.NewStream(name+"/return/"+p.ID, o.video, o.opus))
	}
	return o
}

func (o *outputs) all() []*pipeline.Stream {
	return append([]*pipeline.Stream{o.composite, o.archive}, o.returns...)
}

// writeVideo sends one encoded composite picture to every stream. A new
// track (first SPS, or another encoder after a fallback) is published first.
func (o *outputs) writeVideo(f *pipeline.Frame) {
	o.mu.Lock()
	if f.Track != o.video {
		o.video = f.Track
		o.composite.SetTracks([]*pipeline.Track{o.video, o.opus})
		o.archive.SetTracks([]*pipeline.Track{o.video, o.aac})
		for _, r := range o.returns {
			r.SetTracks([]*pipeline.Track{o.video, o.opus})
		}
	}
	o.mu.Unlock()
	for _, s := range o.all() {
		s.Write(f)
	}
}

func audioFrame(t *pipeline.Track, s gst.Sample) *pipeline.Frame {
	return &pipeline.Frame{Track: t, PTS: s.PTS, DTS: s.PTS, Key: true, Payload: s.Data}
}

func (o *outputs) writeOpus(s gst.Sample) {
	o.composite.Write(audioFrame(o.opus, s))
}

func (o *outputs) writeMixMinus(point int, s gst.Sample) {
	o.returns[point].Write(audioFrame(o.opus, s))
}

// writeAAC sends the archive's audio; the encoder's actual config replaces
// the assumed one if they differ.
func (o *outputs) writeAAC(s gst.Sample) {
	o.mu.Lock()
	if s.Caps != "" {
		if asc, rate, ch, err := gst.ParseAACCaps(s.Caps); err == nil && !bytes.Equal(asc, o.aac.Config) {
			o.aac = &pipeline.Track{Codec: pipeline.AAC, SampleRate: rate, Channels: ch, Config: asc}
			o.archive.SetTracks([]*pipeline.Track{o.video, o.aac})
		}
	}
	t := o.aac
	o.mu.Unlock()
	o.archive.Write(audioFrame(t, s))
}

func (o *outputs) close() {
	for _, s := range o.all() {
		s.Close()
	}
}

package ingest

import (
	"log/slog"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"diemcau/pipeline"
)

// What sources built outside this package (ingest/srt) need of it: a kind
// whose listener lives in its own package registers a Factory with the
// registry, writes through its Feed and builds tracks as every source does.

// Factory makes the sources of one kind (a URL scheme); see
// Registry.SetFactory.
type Factory func(cfg SourceConfig, log *slog.Logger) (Source, error)

// SetFactory makes sources of kind (srt) with f. Call it before Add.
func (r *Registry) SetFactory(kind string, f Factory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.factories == nil {
		r.factories = map[string]Factory{}
	}
	r.factories[kind] = f
}

func (r *Registry) factory(kind string) Factory {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.factories[kind]
}

// FeedFor returns f, or a feed of its own for a source made outside a
// registry.
func FeedFor(f *Feed, id string) *Feed { return feedOf(f, id) }

// Reconnect is called before each new connection of the feed's source: its
// timestamps then continue after the last frame, plus the time away.
func (f *Feed) Reconnect() { f.clock.reconnect() }

// Write moves a frame onto the feed's continuous timeline and writes it.
func (f *Feed) Write(fr *pipeline.Frame) {
	f.clock.shift(fr)
	f.stream.Write(fr)
}

// H264Track builds a video track from H.264 parameter sets.
func H264Track(sps, pps []byte) (*pipeline.Track, error) { return h264Track(sps, pps) }

// H265Track builds a video track from H.265 parameter sets.
func H265Track(vps, sps, pps []byte) (*pipeline.Track, error) { return h265Track(vps, sps, pps) }

// AACTrack builds an AAC track and says how many samples one access unit
// holds.
func AACTrack(conf *mpeg4audio.AudioSpecificConfig) (*pipeline.Track, int64, error) {
	return aacTrack(conf)
}

// DescribeTracks names tracks for a log line ("h264 1280x720, aac 48000 Hz 2 ch").
func DescribeTracks(tracks []*pipeline.Track) string { return describeTracks(tracks) }

package ingest

import "diemcau/pipeline"

// Feed is the part of a source that outlives its settings: the stream its
// readers hold and the timeline that keeps its timestamps going forward.
// The registry keeps one per source id, so a source restarted with new
// settings (another url or transport) writes on where the old one stopped,
// and the composite, the archive, the re-serve and viewers read on without
// attaching again, as after a camera's reconnect.
type Feed struct {
	stream *pipeline.Stream
	clock  timeline
}

// NewFeed makes the feed of source id.
func NewFeed(id string) *Feed { return &Feed{stream: pipeline.NewStream(id)} }

// Stream is the feed's stream.
func (f *Feed) Stream() *pipeline.Stream { return f.stream }

// feedOf returns the feed a source writes to, and whether the source made
// it (and so ends it when it stops).
func feedOf(f *Feed, id string) (feed *Feed, own bool) {
	if f != nil {
		return f, false
	}
	return NewFeed(id), true
}

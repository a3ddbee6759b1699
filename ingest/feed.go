package ingest

import "diemcau/pipeline"

// Feed is the part of a source that outlives its settings: the stream its
// readers hold and the timeline that keeps its timestamps going forward.
// The registry keeps one per source id, so a source restarted with new
// settings (another url or transport) writes on where the old one stopped,
// and the composite, the archive, the re-serve and viewers read on without
// attaching again, as after a camera's reconnect.
//
// A source never closes its feed's stream. The registry, which makes the
// feed, closes it in Remove, once the source's Run has returned: readers
// then see pipeline.ErrStreamClosed, which means "this point is gone". At
// shutdown it closes nothing: every reader ends with its own context, and
// a close would read to the recorder as the point leaving (a gap line). A
// source made outside a registry (tests, benchmarks) has a feed of its own
// that nobody closes; its readers end with their context.
type Feed struct {
	stream *pipeline.Stream
	clock  timeline
}

// NewFeed makes the feed of source id.
func NewFeed(id string) *Feed { return &Feed{stream: pipeline.NewStream(id)} }

// Stream is the feed's stream.
func (f *Feed) Stream() *pipeline.Stream { return f.stream }

// feedOf returns the feed a source writes to: the registry's, or one of
// its own for a source made outside a registry.
func feedOf(f *Feed, id string) *Feed {
	if f != nil {
		return f
	}
	return NewFeed(id)
}

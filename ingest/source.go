package ingest

import (
	"context"

	"diemcau/pipeline"
)

// Source is one point's input, whatever its kind (RTSP pull, push, sim). It
// writes its frames to the stream of its Feed; the stream outlives
// reconnections (and, in a registry, restarts), so readers attach once.
type Source interface {
	ID() string
	Stream() *pipeline.Stream
	Status() Status
	// Rename changes the name its status shows, without a restart.
	Rename(name string)
	// Run connects and keeps the source connected until ctx ends.
	Run(ctx context.Context) error
}

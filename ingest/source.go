package ingest

import (
	"context"

	"diemcau/pipeline"
)

// Source is one point's input, whatever its kind (RTSP pull, push, sim). It
// owns the pipeline.Stream its frames are written to; the stream outlives
// reconnections, so readers attach once.
type Source interface {
	ID() string
	Stream() *pipeline.Stream
	Status() Status
	// Run connects and keeps the source connected until ctx ends.
	Run(ctx context.Context) error
}

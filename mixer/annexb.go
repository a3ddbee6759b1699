package mixer

import (
	"diemcau/pipeline"
	"diemcau/pipeline/h26x"
)

// annexB is a picture as the decoders' parsers take it, with the track's
// parameter sets in front of a keyframe that lacks them, in a new buffer
// that the point's input is handed.
func annexB(f *pipeline.Frame) []byte { return h26x.AppendAnnexB(nil, f) }

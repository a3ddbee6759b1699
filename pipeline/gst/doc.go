// Package gst is the only package of diemcau that imports go-gst: GStreamer
// initialisation, codec and hardware selection by trial, pipeline lifecycle
// (Runner), the appsrc/appsink bridges, and the test-picture encoders used by
// camsim and sim:// sources (EncodeLoop, LiveEncoder).
//
// The GStreamer rules of docs/architecture.md apply throughout: one goroutine owns a pipeline and
// changes its state, with a timeout; samples are copied into Go memory and
// unmapped before the pull returns; shutdown is EOS, a bounded wait, then NULL.
package gst

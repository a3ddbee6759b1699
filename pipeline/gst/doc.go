// Package gst is the only package of diemcau that imports go-gst: GStreamer
// initialisation, codec and hardware probing, pipeline lifecycle, and the
// appsrc/appsink bridges to pipeline.Stream.
package gst

import (
	"github.com/go-gst/go-gst/gst"
	_ "github.com/go-gst/go-gst/gst/app"
)

// Version reports the GStreamer library version, e.g. "1.22.0".
func Version() string {
	major, minor, micro, _ := gst.Version()
	return itoa(major) + "." + itoa(minor) + "." + itoa(micro)
}

func itoa(v uint) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

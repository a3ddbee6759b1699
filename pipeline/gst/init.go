package gst

// #cgo pkg-config: gstreamer-1.0
// #include <gst/gst.h>
import "C"

import (
	"fmt"
	"sync"

	"github.com/go-gst/go-gst/gst"
)

// initOnce guards gst_init, which is process-wide by nature: GStreamer keeps
// one registry and one set of plugins per process whatever we do.
var initOnce sync.Once

// Init initialises GStreamer once per process; later calls do nothing. Every
// exported entry point of this package calls it, so callers need not.
func Init() {
	initOnce.Do(func() { gst.Init(nil) })
}

// Version reports the GStreamer library version, e.g. "1.22.0".
func Version() string {
	Init()
	// go-gst v1.4.0 has no wrapper for gst_version.
	var major, minor, micro, nano C.guint
	C.gst_version(&major, &minor, &micro, &nano)
	v := fmt.Sprintf("%d.%d.%d", major, minor, micro)
	if nano > 0 {
		// 1 is a CVS/git build, 2+ a prerelease; show it like gst-inspect does.
		v += fmt.Sprintf(".%d", nano)
	}
	return v
}

// HasElement reports whether an element factory of that name is installed.
func HasElement(name string) bool {
	Init()
	return gst.Find(name) != nil
}

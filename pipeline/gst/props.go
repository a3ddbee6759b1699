package gst

// #cgo pkg-config: gstreamer-1.0
// #include <stdlib.h>
// #include <gst/gst.h>
import "C"

import (
	"unsafe"

	"github.com/go-gst/go-gst/gst"
)

// setArg sets a property from its string form, as gst-launch does. go-gst's
// SetProperty cannot set enum properties (appsrc format=time) from Go values.
func setArg(el *gst.Element, name, value string) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	cvalue := C.CString(value)
	defer C.free(unsafe.Pointer(cvalue))
	C.gst_util_set_object_arg((*C.GObject)(el.Unsafe()), cname, cvalue)
}

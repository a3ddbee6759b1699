package pipeline

// PatternAVSync is the lip-sync test pattern (a sim:// source's or camsim's
// `pattern`, gst.TestPicture.Pattern): at the start of every second of
// media time the picture goes white for about 100 ms and a 100 ms sine beep
// sounds; the rest of the second is a dark picture with a dim moving ball
// (so a decoder can tell a live picture from a frozen one) and silence. The
// beep's first sample and the flash's first frame share one PTS, so a meter
// reading both onsets measures the path's A/V offset (`diemcau probe --av`).
// It lives here, not beside its GStreamer encoder, so that packages which
// only name it (config checks, the API) need no cgo.
const PatternAVSync = "avsync"

package pipeline

// KeyGate is the one rule for video after a loss: a decoder cannot use the
// frames that follow a hole (they refer to pictures it never got), so after
// Lose every video frame is dropped until the next keyframe. Everything
// that hands video to a decoder applies it: a Stream's readers (a full
// queue), the mixer's feeders (a point silent for a while) and its inputs
// (an appsrc that refused a frame), the WHEP broadcaster (a late start).
// The zero value passes everything. It is not safe for concurrent use: its
// owner holds it under the lock that orders its frames.
type KeyGate struct{ waiting bool }

// Lose marks a hole: video waits for a keyframe.
func (g *KeyGate) Lose() { g.waiting = true }

// Waiting reports whether video is being dropped until a keyframe.
func (g *KeyGate) Waiting() bool { return g.waiting }

// Pass reports whether a video frame with key set as given may go on, and
// opens the gate on a keyframe.
func (g *KeyGate) Pass(key bool) bool {
	if g.waiting && !key {
		return false
	}
	g.waiting = false
	return true
}

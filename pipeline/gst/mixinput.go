package gst

import (
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"

	"diemcau/pipeline"
)

// InputFormat is the coded format of one point's track as it enters the
// mix. Two tracks with equal formats decode in the same branch; a change
// (H.264 to H.265, another AAC config) rebuilds that point's branch only.
type InputFormat struct {
	Codec      pipeline.Codec
	SampleRate int
	Channels   int
	Config     []byte // AAC AudioSpecificConfig
}

// InputFormatOf is the format of a track. Video size and SPS are not part
// of it: h264parse and the decoder follow those in-band.
func InputFormatOf(t *pipeline.Track) InputFormat {
	f := InputFormat{Codec: t.Codec}
	if t.Kind() == pipeline.Audio {
		f.SampleRate, f.Channels, f.Config = t.SampleRate, t.Channels, t.Config
	}
	return f
}

// Key identifies the format, for comparisons.
func (f InputFormat) Key() string {
	return fmt.Sprintf("%s/%d/%d/%x", f.Codec, f.SampleRate, f.Channels, f.Config)
}

// inputBranch is the launch description of a point's decoding branch: appsrc
// named name, then parse/decode/convert to what the compositor or the
// audio mixers take. decoder is the H.264 decoder fragment.
func inputBranch(name string, f InputFormat, decoder string) (string, error) {
	src := fmt.Sprintf("appsrc name=%s is-live=true format=time min-latency=0 max-latency=%d caps=", name, time.Second.Nanoseconds())
	channels := min(max(f.Channels, 1), 2)
	rate := f.SampleRate
	if rate <= 0 {
		rate = 8000
	}
	// A branch ends in an element, not bare caps: parse_launch only turns
	// caps into a filter between two elements.
	audioOut := " ! audioconvert ! audioresample ! capsfilter caps=\"" + MixAudioCaps + "\""
	switch f.Codec {
	case pipeline.H264:
		return src + `"video/x-h264,stream-format=byte-stream,alignment=au" ! h264parse ! ` + decoder + " ! videoconvert", nil
	case pipeline.H265:
		if !HasElement("avdec_h265") {
			return "", fmt.Errorf("codec %s: no decoder (avdec_h265) installed", f.Codec)
		}
		return src + `"video/x-h265,stream-format=byte-stream,alignment=au" ! h265parse ! avdec_h265 ! videoconvert`, nil
	case pipeline.Opus:
		// RTP always says 48000/2 for Opus; the packets say the rest.
		return src + fmt.Sprintf(`"audio/x-opus,channel-mapping-family=0,rate=48000,channels=%d" ! opusdec plc=true`, channels) + audioOut, nil
	case pipeline.AAC:
		if len(f.Config) == 0 {
			return "", fmt.Errorf("codec %s: no AudioSpecificConfig", f.Codec)
		}
		return src + fmt.Sprintf(`"audio/mpeg,mpegversion=4,stream-format=raw,codec_data=(buffer)%s" ! avdec_aac`,
			hex.EncodeToString(f.Config)) + audioOut, nil
	case pipeline.PCMU:
		return src + fmt.Sprintf(`"audio/x-mulaw,rate=%d,channels=%d" ! mulawdec`, rate, channels) + audioOut, nil
	case pipeline.PCMA:
		return src + fmt.Sprintf(`"audio/x-alaw,rate=%d,channels=%d" ! alawdec`, rate, channels) + audioOut, nil
	}
	return "", fmt.Errorf("codec %q: not supported by the mixer", f.Codec)
}

// PushStatus is what became of a frame given to MixInput.Push.
type PushStatus int

// Push outcomes.
const (
	// Pushed: queued in the branch.
	Pushed PushStatus = iota
	// NoBranch: no branch runs for this format (yet); the owner must build one.
	NoBranch
	// Dropped: the branch is behind, or video waits for a keyframe.
	Dropped
)

// inputQueueBytes bounds a branch's appsrc: about a second of a 4 Mbit/s
// camera. Beyond it the decoder is not keeping up and Go drops.
const inputQueueBytes = 512 << 10

// MixInput is where one point's frames of one kind enter the mix. It
// outlives the branches built behind it, and Push is safe from any
// goroutine (a point's feeder), while the owner swaps branches.
type MixInput struct {
	kind pipeline.Kind

	mu     sync.Mutex
	src    *gst.Element // the running branch's appsrc; nil without one
	format string       // its InputFormat.Key
	gate   pipeline.KeyGate

	pushed, dropped atomic.Uint64
}

// Push queues one coded frame (Annex-B for video) with times on the mix's
// running time (-1: none). Video after a loss waits for a keyframe, since a
// decoder cannot use what follows a hole.
func (in *MixInput) Push(format string, data []byte, pts, dts, dur time.Duration, key bool) PushStatus {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.src == nil || in.format != format {
		in.dropped.Add(1)
		return NoBranch
	}
	video := in.kind == pipeline.Video
	if video && !in.gate.Pass(key) {
		in.dropped.Add(1)
		return Dropped
	}
	switch pushBytes(in.src, data, pts, dts, dur, key || !video, inputQueueBytes) {
	case pushQueued:
		in.pushed.Add(1)
		return Pushed
	case pushFull:
		in.gate.Lose()
		in.dropped.Add(1)
		return Dropped
	default:
		in.gate.Lose()
		in.dropped.Add(1)
		return NoBranch
	}
}

// Counts are the frames pushed and dropped so far.
func (in *MixInput) Counts() (pushed, dropped uint64) { return in.pushed.Load(), in.dropped.Load() }

func (in *MixInput) attach(src *gst.Element, format string) {
	in.mu.Lock()
	in.src, in.format = src, format
	in.gate.Lose() // a new decoder starts at a keyframe
	in.mu.Unlock()
}

func (in *MixInput) detach() {
	in.mu.Lock()
	in.src, in.format = nil, ""
	in.mu.Unlock()
}

// mixBranch is a running decode branch of one point, owned by the Mix's
// owner goroutine.
type mixBranch struct {
	bin    *gst.Bin
	inlet  *gst.Element // the funnel it feeds
	pad    *gst.Pad     // the funnel pad it is linked to
	format InputFormat
	names  []string // its elements, to tell its bus messages apart
}

// buildBranch parses a branch, adds it to the pipeline, links it to the
// point's funnel and starts it.
func (m *Mix) buildBranch(point int, kind pipeline.Kind, f InputFormat) (*mixBranch, *gst.Element, error) {
	m.gen++
	name := fmt.Sprintf("in%d%s%d", point, kind.String()[:1], m.gen)
	desc, err := inputBranch(name, f, m.spec.Decoder)
	if err != nil {
		return nil, nil, err
	}
	bin, err := gst.NewBinFromString(desc, true)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %q: %w", desc, err)
	}
	src, err := bin.GetElementByName(name)
	if err != nil {
		return nil, nil, fmt.Errorf("appsrc %s: %w", name, err)
	}
	b := &mixBranch{bin: bin, format: f, inlet: m.vinlets[point]}
	if kind == pipeline.Audio {
		b.inlet = m.ainlets[point]
	}
	if els, err := bin.GetElementsRecursive(); err == nil {
		for _, e := range els {
			b.names = append(b.names, e.GetName())
		}
	}
	b.names = append(b.names, bin.GetName())
	if err := m.p.Add(bin.Element); err != nil {
		return nil, nil, fmt.Errorf("add: %w", err)
	}
	b.pad = b.inlet.GetRequestPad("sink_%u")
	out := bin.GetStaticPad("src")
	if b.pad == nil || out == nil {
		m.dropBranch(b)
		return nil, nil, fmt.Errorf("branch %s: no pad to link", name)
	}
	if r := out.Link(b.pad); r != gst.PadLinkOK {
		m.dropBranch(b)
		return nil, nil, fmt.Errorf("branch %s: link: %s", name, r)
	}
	if !bin.SyncStateWithParent() {
		m.dropBranch(b)
		return nil, nil, fmt.Errorf("branch %s: could not start", name)
	}
	return b, src, nil
}

// dropBranch stops a branch and takes it out of the pipeline. Its state
// change is bounded: a stuck decoder is reported, not waited on forever.
func (m *Mix) dropBranch(b *mixBranch) {
	if err := changeState(b.bin.Element, gst.StateNull, m.stateTimeout); err != nil {
		m.log.Warn("branch did not stop", "branch", b.bin.GetName(), "error", err)
	}
	if b.pad != nil {
		if out := b.bin.GetStaticPad("src"); out != nil {
			out.Unlink(b.pad)
		}
		b.inlet.ReleaseRequestPad(b.pad)
	}
	if err := m.p.Remove(b.bin.Element); err != nil {
		m.log.Warn("branch not removed", "branch", b.bin.GetName(), "error", err)
	}
}

// SetInput makes point's branch of that kind decode format f, rebuilding it
// when the format differs from the running one. Owner goroutine only.
func (m *Mix) SetInput(point int, kind pipeline.Kind, f InputFormat) error {
	k := kindIndex(kind)
	if old := m.branches[point][k]; old != nil {
		if old.format.Key() == f.Key() {
			return nil
		}
		m.RemoveInput(point, kind)
	}
	b, src, err := m.buildBranch(point, kind, f)
	if err != nil {
		return fmt.Errorf("point %d %s input: %w", point, kind, err)
	}
	m.branches[point][k] = b
	for _, n := range b.names {
		m.owners[n] = branchRef{point: point, kind: kind}
	}
	m.inputs[point][k].attach(src, f.Key())
	return nil
}

// RemoveInput stops point's branch of that kind, if any. Owner only.
func (m *Mix) RemoveInput(point int, kind pipeline.Kind) {
	k := kindIndex(kind)
	b := m.branches[point][k]
	if b == nil {
		return
	}
	m.inputs[point][k].detach()
	m.dropBranch(b)
	for _, n := range b.names {
		delete(m.owners, n)
	}
	m.branches[point][k] = nil
}

// HasInput reports whether point has a running branch of that kind, and
// its format. Owner only.
func (m *Mix) HasInput(point int, kind pipeline.Kind) (InputFormat, bool) {
	b := m.branches[point][kindIndex(kind)]
	if b == nil {
		return InputFormat{}, false
	}
	return b.format, true
}

// Input is point's entry for frames of that kind; safe from any goroutine.
func (m *Mix) Input(point int, kind pipeline.Kind) *MixInput {
	return m.inputs[point][kindIndex(kind)]
}

type branchRef struct {
	point int
	kind  pipeline.Kind
}

func kindIndex(k pipeline.Kind) int {
	if k == pipeline.Audio {
		return 1
	}
	return 0
}

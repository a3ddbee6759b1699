package gst

import (
	"slices"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"
)

// The encoded audio mixes leave the composite through appsinks that one
// goroutine drains: the full mix (Opus, AAC) and a mix-minus per point,
// whose set changes as points join and leave.

// audioOut is one encoded mix leaving the pipeline.
type audioOut struct {
	point int // the mix-minus of this point; -1 for a full mix
	sink  *app.Sink
	fn    func(Sample)
	caps  capsMemo // the previous sample's caps, to spot changes; drain goroutine only
}

// startPulls starts the goroutine that moves the encoded mixes out of
// their appsinks (raw pictures go to the encoder without Go: rawPump).
func (m *Mix) startPulls() {
	var outs []*audioOut
	for _, a := range []struct {
		name string
		fn   func(Sample)
	}{{mixOpusAll, m.sinks.OpusAll}, {mixAACAll, m.sinks.AACAll}} {
		if a.fn == nil {
			continue
		}
		el, err := m.p.GetElementByName(a.name)
		if err != nil || el == nil {
			continue // no AAC encoder installed: no AAC mix
		}
		outs = append(outs, m.newAudioOut(-1, el, a.name, a.fn))
	}
	for i, ok := range m.present {
		if ok {
			if out := m.mixMinusOut(i); out != nil {
				outs = append(outs, out)
			}
		}
	}
	m.audioOuts.Store(&outs)
	m.pulls.Add(1)
	go func() {
		defer m.pulls.Done()
		m.drainAudio()
	}()
}

func (m *Mix) newAudioOut(point int, el *gst.Element, name string, fn func(Sample)) *audioOut {
	sink := app.SinkFromElement(el)
	configureSink(sink, SinkConfig{Name: name, MaxBuffers: 64, OnSample: fn})
	return &audioOut{point: point, sink: sink, fn: fn}
}

// mixMinusOut is point's mix-minus appsink, or nil without a MixMinus sink.
func (m *Mix) mixMinusOut(point int) *audioOut {
	if m.sinks.MixMinus == nil {
		return nil
	}
	el, err := m.element(mixMinusSink(point))
	if err != nil {
		m.log.Error("mix-minus appsink missing", "point", point, "error", err)
		return nil
	}
	return m.newAudioOut(point, el, mixMinusSink(point), func(s Sample) { m.sinks.MixMinus(point, s) })
}

// setAudioOuts replaces the drained mixes: keep decides for each present
// one, add is appended. Owner only (the drain goroutine only reads).
func (m *Mix) setAudioOuts(keep func(*audioOut) bool, add *audioOut) {
	var outs []*audioOut
	if old := m.audioOuts.Load(); old != nil {
		for _, o := range *old {
			if keep(o) {
				outs = append(outs, o)
			}
		}
	}
	if add != nil {
		outs = append(outs, add)
	}
	m.audioOuts.Store(&outs)
}

// audioDrainEvery paces the one goroutine that empties all the mixes'
// appsinks: one wake-up per Opus frame for every mix together, instead of
// one per frame per mix, which costs the Go scheduler more than the audio
// costs GStreamer. It adds at most this much to the mixes' latency.
const audioDrainEvery = 20 * time.Millisecond

func (m *Mix) drainAudio() {
	tick := time.NewTicker(audioDrainEvery)
	defer tick.Stop()
	// The drain goroutine owns each out's caps reference: it lets go of an
	// out's when the owner drops the out (the list is replaced, not edited).
	var outs *[]*audioOut
	defer func() {
		if outs != nil {
			releaseCaps(*outs, nil)
		}
	}()
	for !m.stopping.Load() {
		<-tick.C
		if cur := m.audioOuts.Load(); cur != outs {
			if outs != nil {
				releaseCaps(*outs, *cur)
			}
			outs = cur
		}
		for _, o := range *outs {
			for {
				out, ok := pullSample(o.sink, &o.caps)
				if !ok {
					break
				}
				o.fn(out)
			}
		}
	}
}

// releaseCaps lets go of the caps of the outs in old that keep does not hold.
func releaseCaps(old, keep []*audioOut) {
	for _, o := range old {
		if !slices.Contains(keep, o) {
			o.caps.release()
		}
	}
}

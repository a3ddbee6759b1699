package gst

import (
	"fmt"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// The composite's bus and state changes: what the owner polls, and the
// bounded waits of docs/architecture.md rules 1 and 3.

// DumpGraph writes the pipeline as a Graphviz file into
// $GST_DEBUG_DUMP_DOT_DIR, when set, for diagnosing a stuck composite.
func (m *Mix) DumpGraph(name string) {
	if m.p != nil {
		m.p.DebugBinToDotFileWithTs(gst.DebugGraphShowAll, name)
	}
}

// Poll returns the errors and warnings posted since the last call, without
// waiting, and keeps the points' level readings (Level). An event with
// Point -1 means the composite itself failed.
func (m *Mix) Poll() []MixEvent {
	var out []MixEvent
	now := time.Now()
	for len(out) < 64 {
		msg := m.bus.PopFiltered(gst.MessageError | gst.MessageWarning | gst.MessageElement)
		if msg == nil {
			break
		}
		if msg.Type() == gst.MessageElement {
			m.takeLevel(msg, now)
			continue
		}
		ev := MixEvent{Point: -1, Element: msg.Source()}
		if ref, ok := m.owners[ev.Element]; ok {
			ev.Point, ev.Kind = ref.point, ref.kind
		}
		if msg.Type() == gst.MessageWarning {
			ev.Warning, ev.Err = true, gerror(msg.ParseWarning())
		} else {
			ev.Err = gerror(msg.ParseError())
		}
		out = append(out, ev)
	}
	return out
}

// busError adds the reason GStreamer posted (not negotiated, no device) to
// a failed state change.
func busError(bus *gst.Bus, err error) error {
	if msg := bus.PopFiltered(gst.MessageError); msg != nil {
		return fmt.Errorf("%w: %s: %w", err, msg.Source(), gerror(msg.ParseError()))
	}
	return err
}

// waitEOS waits, bounded, for EOS (or an error) to reach the bus.
func waitEOS(bus *gst.Bus, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		msg := bus.TimedPopFiltered(gst.ClockTime(busPollInterval), gst.MessageEOS|gst.MessageError)
		if msg != nil {
			return msg.Type() == gst.MessageEOS
		}
	}
	return false
}

// changeState sets an element's state and waits for it, bounded; the wait
// runs on its own goroutine so that a call stuck in native code cannot hang
// the owner (docs/architecture.md rule 1).
func changeState(e *gst.Element, s gst.State, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() {
		if err := e.SetState(s); err != nil {
			done <- err
			return
		}
		ret, cur := e.GetState(s, gst.ClockTime(timeout))
		switch ret {
		case gst.StateChangeFailure:
			done <- fmt.Errorf("state change to %s failed", s)
		case gst.StateChangeAsync:
			done <- fmt.Errorf("%w: still %s after %v waiting for %s", ErrFrozen, cur, timeout, s)
		default:
			done <- nil
		}
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout + time.Second):
		return fmt.Errorf("%w: state change to %s did not return in %v", ErrFrozen, s, timeout)
	}
}

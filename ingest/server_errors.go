package ingest

import (
	"log/slog"
	"sync/atomic"
)

// errorSummary counts errors on a packet path and remembers the last one, so
// that they are logged once a second ("%d errors, last was: …") rather than
// one by one.
type errorSummary struct {
	what     string
	total    atomic.Uint64
	reported atomic.Uint64
	last     atomic.Pointer[string]
}

func (e *errorSummary) add(msg string) {
	e.total.Add(1)
	e.last.Store(&msg)
}

// Total is the number of errors counted so far.
func (e *errorSummary) Total() uint64 { return e.total.Load() }

// flush logs the errors counted since the previous flush, if any.
func (e *errorSummary) flush(log *slog.Logger) {
	total := e.total.Load()
	n := total - e.reported.Swap(total)
	if n == 0 {
		return
	}
	last := ""
	if p := e.last.Load(); p != nil {
		last = *p
	}
	log.Warn(e.what, "count", n, "last", last)
}

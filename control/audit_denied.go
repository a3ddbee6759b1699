package control

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"diemcau/control/store"
)

// Refused requests (401, 403) are audited as a summary: one audit entry and
// one log line per period, with the counts by address, method, path and
// status. One entry per attempt would let a token-guessing run fill the
// audit log and the disk; none would hide it.
const (
	deniedPeriod  = time.Minute
	maxDeniedKeys = 1000 // distinct (address, path, status) kept per period; the rest only counted
	maxDeniedPath = 128
	deniedShown   = 20 // keys written out per entry, most frequent first
)

// DeniedMethod is the Method of a summary entry in the audit log.
const DeniedMethod = "DENIED"

type deniedKey struct {
	addr, method, path string
	status             int
}

type deniedLog struct {
	mu     sync.Mutex
	counts map[deniedKey]int
	other  int // refusals past maxDeniedKeys
	since  time.Time
	every  time.Duration
}

// note counts one refused request.
func (d *deniedLog) note(remote, method, path string, status int) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	k := deniedKey{addr: host, method: cleanForLog(method, 16), path: cleanForLog(path, maxDeniedPath), status: status}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.counts == nil {
		d.counts = map[deniedKey]int{}
	}
	if len(d.counts) == 0 && d.other == 0 {
		d.since = time.Now()
	}
	if _, ok := d.counts[k]; !ok && len(d.counts) >= maxDeniedKeys {
		d.other++
		return
	}
	d.counts[k]++
}

// cleanForLog keeps a client-chosen string printable and short.
func cleanForLog(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// take empties the log and returns what it held.
func (d *deniedLog) take() (map[deniedKey]int, int, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, o, since := d.counts, d.other, d.since
	d.counts, d.other = nil, 0
	return c, o, since
}

// flushDenied writes the period's summary, if anything was refused.
func (s *Server) flushDenied() {
	counts, other, since := s.denied.take()
	if len(counts) == 0 && other == 0 {
		return
	}
	type entry struct {
		deniedKey
		n int
	}
	entries := make([]entry, 0, len(counts))
	total, result := other, http.StatusForbidden
	for k, n := range counts {
		entries = append(entries, entry{k, n})
		total += n
		if k.status == http.StatusUnauthorized {
			result = http.StatusUnauthorized
		}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.addr, b.addr), cmp.Compare(a.path, b.path), cmp.Compare(a.status, b.status))
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests refused since %s:", total, since.UTC().Format(time.RFC3339))
	for i, e := range entries {
		if i == deniedShown {
			fmt.Fprintf(&b, "; and %d more addresses or paths", len(entries)-deniedShown)
			break
		}
		sep := " "
		if i > 0 {
			sep = "; "
		}
		fmt.Fprintf(&b, "%s%s %s %s %d ×%d", sep, e.addr, e.method, e.path, e.status, e.n)
	}
	if other > 0 {
		fmt.Fprintf(&b, "; %d more past the %d kept", other, maxDeniedKeys)
	}
	detail := b.String()
	s.log.Warn("requests refused (401/403)", "count", total, "summary", detail)
	if s.deps.Store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a := store.Audit{At: time.Now().UTC(), Actor: "-", Method: DeniedMethod, Result: result, Detail: detail}
	if len(entries) > 0 {
		a.Path, a.Target = entries[0].path, entries[0].addr // the most frequent
	}
	if _, err := s.deps.Store.AppendAudit(ctx, a); err != nil {
		s.log.Error("audit log write failed", "what", "refused requests", "err", err)
	}
}

// runDeniedLog writes the summary every period until stop is closed, then
// once more; done is closed when it has.
func (s *Server) runDeniedLog(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	every := s.denied.every
	if every <= 0 {
		every = deniedPeriod
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.flushDenied()
		case <-stop:
			s.flushDenied()
			return
		}
	}
}

// startDeniedLog runs the summary writer for Run; the returned func stops
// it after a last write.
func (s *Server) startDeniedLog() (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go s.runDeniedLog(quit, done)
	return func() {
		close(quit)
		<-done
	}
}

// NoteDenied counts a refusal that did not pass through this HTTP server
// (an RTSP reader's wrong login) in the same summary.
func (s *Server) NoteDenied(remote, method, path string, status int) {
	s.denied.note(remote, method, path, status)
}

// statusWatch remembers the status a handler answered, for the summary;
// it passes everything else through (ResponseController, sendfile).
type statusWatch struct {
	http.ResponseWriter
	status int
}

func (w *statusWatch) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWatch) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWatch) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
}

func (w *statusWatch) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *statusWatch) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// serveWatched serves r and counts it when it was refused.
func (s *Server) serveWatched(w http.ResponseWriter, r *http.Request) {
	sw := &statusWatch{ResponseWriter: w}
	s.mux.ServeHTTP(sw, r)
	if sw.status == http.StatusUnauthorized || sw.status == http.StatusForbidden {
		s.denied.note(r.RemoteAddr, r.Method, r.URL.Path, sw.status)
	}
}

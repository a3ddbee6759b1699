package srt

import (
	"log/slog"
	"maps"
	"sort"
	"sync"
	"time"
)

// Reasons a caller is refused; they are the label of
// diemcau_srt_refused_total.
const (
	reasonBadStreamID     = "bad_streamid"
	reasonNotPublish      = "not_publish"
	reasonUnknownSource   = "unknown_source"
	reasonNotSRT          = "not_srt_source"
	reasonWrongPassphrase = "wrong_passphrase"
	reasonNoPassphrase    = "no_passphrase"
	reasonUnexpectedPass  = "unexpected_passphrase"
	reasonBusy            = "busy"
	reasonNotRunning      = "not_running"
	reasonAcceptFailed    = "accept_failed"
)

// refusals counts refused callers and logs them one line per reason at
// most every period: a caller retrying with a wrong passphrase every
// second must not flood the log.
type refusals struct {
	log    *slog.Logger
	period time.Duration

	mu     sync.Mutex
	total  map[string]uint64
	byKind map[string]*refusalKind
}

type refusalKind struct {
	pending          uint64
	lastLog          time.Time
	message          string
	remote, streamID string
	source           string
}

func newRefusals(log *slog.Logger, period time.Duration) *refusals {
	return &refusals{log: log, period: period, total: map[string]uint64{}, byKind: map[string]*refusalKind{}}
}

// add counts one refusal; the first of a period is logged at once.
func (r *refusals) add(reason, message, remote, streamID, source string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total[reason]++
	k := r.byKind[reason]
	if k == nil {
		k = &refusalKind{}
		r.byKind[reason] = k
	}
	k.pending++
	k.message, k.remote, k.streamID, k.source = message, remote, streamID, source
	if now.Sub(k.lastLog) >= r.period {
		r.flushLocked(reason, k, now)
	}
}

// flush logs the refusals counted since their kind's last line, once the
// period has passed.
func (r *refusals) flush(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for reason, k := range r.byKind {
		if k.pending > 0 && now.Sub(k.lastLog) >= r.period {
			r.flushLocked(reason, k, now)
		}
	}
}

func (r *refusals) flushLocked(reason string, k *refusalKind, now time.Time) {
	args := []any{"reason", reason, "count", k.pending, "why", k.message, "last_remote", k.remote, "last_streamid", printableStreamID(k.streamID)}
	if k.source != "" {
		args = append(args, "source", k.source)
	}
	r.log.Warn("srt caller refused", args...)
	k.pending = 0
	k.lastLog = now
}

// Totals returns the refusals counted since start, by reason.
func (r *refusals) totals() map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.total)
}

// reasons lists every reason, for metrics that show zeros too.
func reasons() []string {
	out := []string{reasonBadStreamID, reasonNotPublish, reasonUnknownSource, reasonNotSRT, reasonWrongPassphrase,
		reasonNoPassphrase, reasonUnexpectedPass, reasonBusy, reasonNotRunning, reasonAcceptFailed}
	sort.Strings(out)
	return out
}

package whep

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogs hands pion's loggers to slog. pion reports per-connection and
// sometimes per-packet trouble at warn and error level (a viewer that went
// away, a stray STUN packet); those are routine for a server, so they go to
// debug: what an operator needs is counted and summarised by this package.
type pionLogs struct{ log *slog.Logger }

func (p pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: p.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) emit(msg string) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(msg)
	}
}

func (l pionLogger) emitf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(string)                  {}
func (l pionLogger) Tracef(string, ...any)         {}
func (l pionLogger) Debug(string)                  {}
func (l pionLogger) Debugf(string, ...any)         {}
func (l pionLogger) Info(msg string)               { l.emit(msg) }
func (l pionLogger) Infof(format string, a ...any) { l.emitf(format, a...) }
func (l pionLogger) Warn(msg string)               { l.emit(msg) }
func (l pionLogger) Warnf(format string, a ...any) { l.emitf(format, a...) }
func (l pionLogger) Error(msg string)              { l.emit(msg) }
func (l pionLogger) Errorf(format string, a ...any) {
	l.emitf(format, a...)
}

package recorder

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
)

const (
	// diskCheckEvery bounds how often the free space is asked for; every
	// stream of every run shares one answer.
	diskCheckEvery = time.Second
	// fullDiskMargin is the room needed beyond MinFree before recording
	// resumes after a write failed with ENOSPC, so that it does not stop
	// and start once a second on a disk that is still nearly full.
	fullDiskMargin = 16 << 20
)

// diskGuard caches the free space of the archive's filesystem.
type diskGuard struct {
	root string
	min  int64
	free FreeSpaceFunc

	mu    sync.Mutex
	at    time.Time
	bytes int64
	err   error
}

func (g *diskGuard) check(now time.Time) (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.at.IsZero() || now.Sub(g.at) >= diskCheckEvery || now.Before(g.at) {
		g.bytes, g.err = g.free(g.root)
		g.at = now
	}
	return g.bytes, g.err
}

// forget drops the cached answer, after a write found the disk full.
func (g *diskGuard) forget() {
	g.mu.Lock()
	g.at = time.Time{}
	g.mu.Unlock()
}

// low says whether recording must stop, and why. An unanswerable check does
// not stop recording: a real full disk still shows up as ENOSPC.
func (g *diskGuard) low(now time.Time) (bool, string) {
	free, err := g.check(now)
	if err != nil || free >= g.min {
		return false, ""
	}
	return true, fmt.Sprintf("free space %s is below archive.min_free %s", fmtBytes(free), fmtBytes(g.min))
}

// roomAfterFull says whether there is again room after ENOSPC.
func (g *diskGuard) roomAfterFull(now time.Time) bool {
	free, err := g.check(now)
	return err == nil && free >= g.min+fullDiskMargin
}

// isDiskFull tells the errors that mean "no space" from other I/O errors.
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

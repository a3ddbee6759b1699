package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"diemcau/control/store"
)

// ServerCheck is the server side of a check: what would stop the session
// even with every camera fine.
type ServerCheck struct {
	Verdict  string   `json:"verdict"`
	Reasons  []string `json:"reasons"`
	Encoder  string   `json:"encoder,omitempty"`
	Hardware bool     `json:"hardware"`
	// Disk: free space at the archive root against what the planned
	// duration of the session would write.
	DiskFreeBytes   int64 `json:"disk_free_bytes"`
	DiskNeededBytes int64 `json:"disk_needed_bytes"`
	// DiskMinFreeBytes is archive.min_free: below it recording stops, so
	// it is not counted as usable.
	DiskMinFreeBytes int64 `json:"disk_min_free_bytes"`
	// PlannedDuration is the length the estimate is for ("2h30m");
	// DurationAssumed: the session gives none and the default was taken.
	PlannedDuration string `json:"planned_duration,omitempty"`
	DurationAssumed bool   `json:"duration_assumed,omitempty"`
	// RecordKbps is what recording the session writes per second: the
	// composite and each point's feed as measured.
	RecordKbps float64 `json:"record_kbps,omitempty"`
	// CPU: the 1-minute load against the cores there are.
	Load1 float64 `json:"load1"`
	Cores int     `json:"cores"`
	// WebRTC is "pass", or why a viewer of the composite saw no frame.
	WebRTC string `json:"webrtc"`
}

func (c *Checker) checkServer(ctx context.Context, sess store.Session, pointKbps []float64) ServerCheck {
	sc := ServerCheck{Verdict: store.VerdictPass, Reasons: []string{}, Cores: runtime.NumCPU()}
	note := func(verdict, format string, args ...any) {
		sc.Verdict = worse(sc.Verdict, verdict)
		sc.Reasons = append(sc.Reasons, fmt.Sprintf(format, args...))
	}

	if c.deps.Encoder != nil {
		sc.Encoder, sc.Hardware = c.deps.Encoder()
	}
	if sc.Encoder == "" {
		note(store.VerdictFail, "no H.264 encoder works on this server: the composite cannot be made")
	}

	if sess.Record && c.cfg.ArchiveRoot != "" {
		est := estimateDisk(sess, pointKbps, c.cfg.PlannedDuration)
		sc.DiskNeededBytes, sc.RecordKbps = est.Bytes, math.Round(est.Kbps)
		sc.PlannedDuration, sc.DurationAssumed = formatDuration(est.Duration), est.Assumed
		sc.DiskMinFreeBytes = c.cfg.MinFree
		free, err := FreeBytes(c.cfg.ArchiveRoot)
		if err != nil {
			note(store.VerdictFail, "archive root %s: %v", c.cfg.ArchiveRoot, err)
		} else {
			sc.DiskFreeBytes = free
			if verdict, reason := judgeDisk(free, c.cfg.MinFree, est, c.cfg.ArchiveRoot); verdict != store.VerdictPass {
				note(verdict, "%s", reason)
			}
		}
	}

	if load, err := load1(); err == nil {
		sc.Load1 = load
		switch {
		case load > float64(sc.Cores):
			note(store.VerdictFail, "CPU: load %.1f on %d cores, no headroom for the composite", load, sc.Cores)
		case load > 0.75*float64(sc.Cores):
			note(store.VerdictWarn, "CPU: load %.1f on %d cores, little headroom", load, sc.Cores)
		}
	}

	sc.WebRTC = "not available on this server"
	if c.deps.WebRTC != nil {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.deps.WebRTC(wctx, sess.ID)
		cancel()
		if err != nil {
			sc.WebRTC = err.Error()
			note(store.VerdictFail, "WebRTC: a test viewer of the composite got no picture: %v", err)
		} else {
			sc.WebRTC = store.VerdictPass
		}
	} else {
		note(store.VerdictWarn, "WebRTC path not tested: %s", sc.WebRTC)
	}
	return sc
}

// FreeBytes is the space left to an unprivileged writer at dir, or, before
// the first recording made it, at the nearest parent that exists.
func FreeBytes(dir string) (int64, error) {
	// The root may not exist before the first recording: look at its parent.
	d := filepath.Clean(dir)
	for {
		var st syscall.Statfs_t
		err := syscall.Statfs(d, &st)
		if err == nil {
			return int64(st.Bavail) * int64(st.Bsize), nil
		}
		parent := filepath.Dir(d)
		if !errors.Is(err, fs.ErrNotExist) || parent == d {
			return 0, err
		}
		d = parent
	}
}

func load1() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("/proc/loadavg is empty")
	}
	return strconv.ParseFloat(f[0], 64)
}

func human(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
	// CPU: the 1-minute load against the cores there are.
	Load1 float64 `json:"load1"`
	Cores int     `json:"cores"`
	// WebRTC is "pass", or why a viewer of the composite saw no frame.
	WebRTC string `json:"webrtc"`
}

func (c *Checker) checkServer(ctx context.Context, sess store.Session) ServerCheck {
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
		sc.DiskNeededBytes = neededBytes(sess, c.cfg.PlannedDuration)
		free, err := FreeBytes(c.cfg.ArchiveRoot)
		switch {
		case err != nil:
			note(store.VerdictFail, "archive root %s: %v", c.cfg.ArchiveRoot, err)
		case free < sc.DiskNeededBytes:
			sc.DiskFreeBytes = free
			note(store.VerdictFail, "disk: %s free at %s, a %s session needs about %s", human(free), c.cfg.ArchiveRoot, c.cfg.PlannedDuration, human(sc.DiskNeededBytes))
		case free < 2*sc.DiskNeededBytes:
			sc.DiskFreeBytes = free
			note(store.VerdictWarn, "disk: %s free, less than twice the %s a %s session needs", human(free), human(sc.DiskNeededBytes), c.cfg.PlannedDuration)
		default:
			sc.DiskFreeBytes = free
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

// neededBytes estimates an archive: the composite plus each point as received.
func neededBytes(sess store.Session, d time.Duration) int64 {
	kbps := int64(sess.Output.Bitrate) + 128 // composite + its audio
	kbps += int64(len(sess.Points)) * 4000   // a camera main stream, generously
	return kbps * 1000 / 8 * int64(d.Seconds())
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

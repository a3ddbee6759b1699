package checks

import (
	"fmt"
	"math"
	"strings"
	"time"

	"diemcau/control/store"
)

// Figures of the disk estimate.
const (
	// compositeAudioKbps is the composite's audio track.
	compositeAudioKbps = 128
	// unmeasuredPointKbps stands for a point whose bitrate could not be
	// measured (offline during the check): a camera's main stream,
	// generously.
	unmeasuredPointKbps = 4000
	// vbrHeadroom: a camera's bitrate over a few seconds of a still room
	// before the session is below what people moving in it cost.
	vbrHeadroom = 1.25
	// containerOverhead: fragmented MP4 boxes (a moof every part) and the
	// manifest, a few percent over the raw streams.
	containerOverhead = 1.03
)

// diskEstimate is what recording a session for its planned duration writes.
type diskEstimate struct {
	Duration time.Duration
	Assumed  bool    // the session gives no duration: the default was taken
	Kbps     float64 // all streams together
	Bytes    int64
	// Unmeasured is how many points' feeds were counted at
	// unmeasuredPointKbps.
	Unmeasured int
}

// estimateDisk adds the composite (the session's output bitrate and its
// audio) and each source as received (pointKbps[i] is point i's measured
// bitrate, 0 when unknown; a source shared by two points is recorded once),
// over the session's duration, or fallback when it gives none.
func estimateDisk(sess store.Session, pointKbps []float64, fallback time.Duration) diskEstimate {
	est := diskEstimate{Duration: sess.Duration}
	if est.Duration <= 0 {
		est.Duration, est.Assumed = fallback, true
	}
	est.Kbps = float64(sess.Output.Bitrate + compositeAudioKbps)
	seen := map[string]bool{}
	for i, p := range sess.Points {
		if seen[p.Source] {
			continue
		}
		seen[p.Source] = true
		kbps := 0.0
		if i < len(pointKbps) {
			kbps = pointKbps[i]
		}
		if kbps <= 0 {
			est.Unmeasured++
			est.Kbps += unmeasuredPointKbps
			continue
		}
		est.Kbps += kbps * vbrHeadroom
	}
	est.Bytes = int64(math.Round(est.Kbps * 1000 / 8 * est.Duration.Seconds() * containerOverhead))
	return est
}

// judgeDisk grades free space at root against the estimate: fail when what
// is usable (free less minFree, where recording stops) is less than the
// session needs, warn when less than twice.
func judgeDisk(free, minFree int64, est diskEstimate, root string) (verdict, reason string) {
	usable := free - minFree
	what := fmt.Sprintf("a %s session", formatDuration(est.Duration))
	if est.Assumed {
		what = fmt.Sprintf("a session of %s (assumed: the session has no duration; set one)", formatDuration(est.Duration))
	}
	basis := fmt.Sprintf("%.0f kbps recorded", est.Kbps)
	if est.Unmeasured > 0 {
		basis += fmt.Sprintf(", %d point(s) not measured counted at %d kbps", est.Unmeasured, unmeasuredPointKbps)
	}
	space := fmt.Sprintf("%s free at %s", human(free), root)
	if minFree > 0 {
		space += fmt.Sprintf(", %s of it above archive.min_free", human(max(usable, 0)))
	}
	switch {
	case usable < est.Bytes:
		return store.VerdictFail, fmt.Sprintf("disk: %s; %s needs about %s (%s): recording would stop part-way; free space or shorten the session",
			space, what, human(est.Bytes), basis)
	case usable < 2*est.Bytes:
		return store.VerdictWarn, fmt.Sprintf("disk: %s, less than twice the %s %s needs (%s)", space, human(est.Bytes), what, basis)
	}
	return store.VerdictPass, ""
}

// formatDuration writes d as a person types it: "2h30m", "4h", "45m".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

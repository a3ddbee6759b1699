package ingest

import (
	"fmt"
	"math"
	"time"

	"diemcau/ingest/rtcpsr"
)

// The camera's wall clock against the server's, from RTCP sender reports.
// The probe measures it once; live pull and push sources keep measuring it
// (Tracker.SenderReport) so that the pre-session check, which reads feeds
// through the server's re-serve, still sees the camera's own clock.

const (
	// offsetWindow is how far back the estimate looks: long enough to
	// hold several reports of a camera that sends one every 5 to 10 s,
	// short enough to follow a camera whose clock was just corrected.
	offsetWindow = 30 * time.Second
	// offsetSlots divide the window; each keeps only its best report, so
	// the estimator's memory is fixed however often reports come.
	offsetSlots = 6
	offsetSlot  = offsetWindow / offsetSlots
)

// ntpEpoch is 1900-01-01, where RTCP's NTP timestamps count from.
var ntpEpoch = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// unsetClockBefore: a camera whose clock reads earlier than this has none
// set (it counts from 1900 or 1970, or from its boot).
var unsetClockBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ntpTime is an RTCP 64-bit NTP timestamp (32.32 fixed point seconds since
// 1900) as a time.
func ntpTime(v uint64) time.Time { return rtcpsr.NTPTime(v) }

// offsetEstimator estimates a camera's wall clock minus the server's from
// the sender reports it sends. A report's NTP time minus its arrival is
// the offset less the report's transit time, and transit only ever adds:
// the largest recent difference is the best estimate. It keeps the best of
// each offsetSlot over the last offsetWindow (25 to 30 s before the latest
// report), without allocating. Not safe for concurrent use.
type offsetEstimator struct {
	slots   [offsetSlots]offsetSlotBest
	latest  time.Time // arrival of the latest report
	reports uint64
}

type offsetSlotBest struct {
	n    int64 // which offsetSlot of time since the Unix epoch
	best time.Duration
	used bool
}

// add takes one sender report: its NTP timestamp and when it arrived.
func (e *offsetEstimator) add(ntp uint64, arrival time.Time) {
	off := ntpTime(ntp).Sub(arrival)
	n := arrival.UnixNano() / int64(offsetSlot)
	s := &e.slots[int(n%offsetSlots+offsetSlots)%offsetSlots]
	if !s.used || s.n != n {
		*s = offsetSlotBest{n: n, best: off, used: true}
	} else if off > s.best {
		s.best = off
	}
	if arrival.After(e.latest) {
		e.latest = arrival
	}
	e.reports++
}

// estimate is the offset over the window that ends at the latest report,
// and that report's arrival; ok is false before any report.
func (e *offsetEstimator) estimate() (off time.Duration, at time.Time, ok bool) {
	if e.reports == 0 {
		return 0, time.Time{}, false
	}
	cur := e.latest.UnixNano() / int64(offsetSlot)
	for _, s := range e.slots {
		if !s.used || s.n > cur || s.n <= cur-offsetSlots {
			continue
		}
		if !ok || s.best > off {
			off, ok = s.best, true
		}
	}
	return off, e.latest, ok
}

// clockUnset reports whether a camera whose clock is off from the server's
// by off (at server time at) has no clock set, and what it reads.
func clockUnset(off time.Duration, at time.Time) (time.Time, bool) {
	camera := at.Add(off).UTC()
	return camera, camera.Before(unsetClockBefore)
}

// ClockOffsetCheck grades a camera's wall clock: offsetS is its clock
// minus the server's in seconds (positive: ahead), measured at at (zero:
// now). The probe and the pre-session check both word it so.
func ClockOffsetCheck(offsetS float64, at time.Time) ProbeCheck {
	if at.IsZero() {
		at = time.Now()
	}
	// Clamped: a Duration holds ±292 years, a float anything.
	off := time.Duration(math.Max(math.Min(offsetS, 9e9), -9e9) * float64(time.Second))
	chk := ProbeCheck{Name: "clock-offset", Result: CheckPass}
	if camera, unset := clockUnset(off, at); unset {
		chk.Result = CheckWarn
		chk.Message = fmt.Sprintf("camera clock not set: its RTCP reports read %s; set its NTP server so the time it burns into the picture is right",
			camera.Format("2006-01-02 15:04:05"))
		return chk
	}
	abs := math.Abs(offsetS)
	if abs > warnOffset.Seconds() {
		chk.Result = CheckWarn
		chk.Message = fmt.Sprintf("camera clock is %s %s the server; set its NTP server (the time it burns into the picture is wrong)",
			humanSeconds(abs), aheadBehind(offsetS))
		return chk
	}
	chk.Message = fmt.Sprintf("camera clock within %.1f s of the server's", abs)
	return chk
}

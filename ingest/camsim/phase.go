package camsim

import "time"

// PatternPhase is where in each second of the wall clock camera i (1-based)
// of n flashes and beeps under the avsync pattern: the cameras take turns,
// (i-1)/n of a second apart (up to 8 cameras, at least 125 ms: the 100 ms
// beeps never overlap). Two reasons: a meter reading a composite tells the
// points apart by time as well as by tone (flashes in the same frame would
// merge into one region, overlapping beeps make ghost tones), and a bench
// knows the wall-clock time each flash left the camera, so it can time it
// at a viewer.
func PatternPhase(i, n int) time.Duration {
	if n <= 0 || i < 1 {
		return 0
	}
	return time.Duration((i-1)%n) * time.Second / time.Duration(n)
}

// patternEpoch is camera i's time zero under a pattern: the latest instant
// at or before now that lies PatternPhase(i, n) into a second of the wall
// clock. It keeps now's monotonic reading, so timers follow it even if the
// wall clock is stepped later.
func patternEpoch(now time.Time, i, n int) time.Time {
	into := now.Sub(now.Truncate(time.Second)) // how far now is into its second
	e := now.Add(PatternPhase(i, n) - into)
	if e.After(now) {
		e = e.Add(-time.Second)
	}
	return e
}

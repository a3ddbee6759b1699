package checks

import (
	"slices"
	"time"

	"diemcau/ingest"
)

// statusClockCheck grades the camera's wall clock from the source's live
// status. A check's probe reads the feed through the server's re-serve,
// whose RTCP sender reports carry the server's clock; the source itself
// keeps the offset from the camera's own reports. ok is false when the
// camera sends none.
func statusClockCheck(st ingest.Status) (chk ingest.ProbeCheck, ok bool) {
	if st.ClockOffsetS == nil {
		return ingest.ProbeCheck{}, false
	}
	var at time.Time
	if st.ClockOffsetAt != nil {
		at = *st.ClockOffsetAt
	}
	return ingest.ClockOffsetCheck(*st.ClockOffsetS, at), true
}

// useStatusClock puts the status's clock check and offset into the probe
// report in place of the probe's "not measured", so the stored report
// says what the reasons say.
func useStatusClock(rep *ingest.ProbeReport, st ingest.Status, chk ingest.ProbeCheck) {
	checks := slices.Clone(rep.Checks)
	if i := slices.IndexFunc(checks, func(c ingest.ProbeCheck) bool { return c.Name == chk.Name }); i >= 0 {
		checks[i] = chk
	} else {
		checks = append(checks, chk)
	}
	rep.Checks = checks
	if rep.Clock != nil {
		clock := *rep.Clock
		off := *st.ClockOffsetS
		clock.OffsetS = &off
		rep.Clock = &clock
	}
	if rank(chk.Result) > rank(rep.Verdict) {
		rep.Verdict = chk.Result
	}
}

func rank(r ingest.CheckResult) int {
	switch r {
	case ingest.CheckFail:
		return 2
	case ingest.CheckWarn:
		return 1
	}
	return 0
}

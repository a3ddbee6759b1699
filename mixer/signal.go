package mixer

import (
	"fmt"
	"time"
)

// signalLossAfter is how long a point may go without a decoded picture
// before its tile shows the slate (issue: "stops delivering frames for 1 s").
const signalLossAfter = time.Second

// SlateTitle heads a slate: "signal lost".
const SlateTitle = "MẤT TÍN HIỆU"

// signal tracks whether a point's picture is live or lost.
type signal struct {
	lost   bool
	since  time.Time // when it was lost: its last picture, or the start
	losses uint64    // times the slate went up
}

// update takes the age of the point's last decoded picture (-1: none yet)
// and reports whether the state changed.
func (s *signal) update(now time.Time, age time.Duration, start time.Time) bool {
	var lost bool
	var since time.Time
	if age < 0 {
		lost, since = now.Sub(start) >= signalLossAfter, start
	} else {
		lost, since = age >= signalLossAfter, now.Add(-age)
	}
	if lost == s.lost {
		return false
	}
	s.lost = lost
	if lost {
		s.since = since
		s.losses++
	}
	return true
}

// slateText is what a lost point's tile shows: the title, its label and the
// time the signal was lost (local time, as the archive is read locally).
func slateText(label string, since time.Time) string {
	return fmt.Sprintf("%s\n%s\ntừ %s", SlateTitle, label, since.Local().Format("15:04:05 02/01/2006"))
}

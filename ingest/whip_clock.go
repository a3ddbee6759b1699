package ingest

import "time"

// srClock times one track of a WHIP publisher. A browser starts each
// track's RTP clock at a random value, so until sender reports say how the
// tracks relate, a packet is timed from when its track's first packet
// arrived. Once both tracks have a report, the track that is early is
// moved later (never earlier: readers must not see time go back) so the
// picture and the sound keep the relation the publisher's clock gives
// them, as the RTSP path does with a camera's reports.
type srClock struct {
	started    bool
	first      uint32        // the track's first RTP timestamp
	last       int64         // extended timestamp of the latest packet, from first
	arrivalOff time.Duration // first packet's arrival after the publisher's first packet
	shift      int64         // clock units added to line the tracks up

	haveSR bool
	srExt  int64     // the latest report's RTP time, extended like packets
	srNTP  time.Time // and its wall-clock time on the publisher
}

// pts is a packet's presentation time in clock units.
func (c *srClock) pts(ts uint32, arrival, start time.Time, rate int64) int64 {
	if !c.started {
		c.started, c.first, c.last = true, ts, 0
		c.arrivalOff = arrival.Sub(start)
	}
	ext := c.extend(ts)
	c.last = ext
	return durationUnits(c.arrivalOff, rate) + c.shift + ext
}

// extend places a 32-bit timestamp near the latest one (wrap-around
// every 13 hours at 90 kHz, and packets out of order either way).
func (c *srClock) extend(ts uint32) int64 {
	cur := uint32(c.last) + c.first
	return c.last + int64(int32(ts-cur))
}

// report notes a sender report; one before the track's first packet
// cannot be placed and waits for the next.
func (c *srClock) report(rtpTime uint32, ntp time.Time, _ int64) {
	if !c.started {
		return
	}
	c.srExt, c.srNTP, c.haveSR = c.extend(rtpTime), ntp, true
}

// offset is the track's presentation time minus its publisher wall-clock
// time, both taken at the last report (with the reference of the other
// track's, only differences of offsets mean anything).
func (c *srClock) offset(rate int64, ref time.Time) time.Duration {
	return c.arrivalOff + unitsDuration(c.shift+c.srExt, rate) - c.srNTP.Sub(ref)
}

// syncTolerance: offsets closer than this are left alone; a step in the
// sound is heard, and a few milliseconds are not seen.
const syncTolerance = 5 * time.Millisecond

// alignTracks moves the early track of video and audio later so both keep
// their reported relation. It reports the step made.
func alignTracks(video, audio *srClock, videoRate, audioRate int64) time.Duration {
	if !video.haveSR || !audio.haveSR {
		return 0
	}
	delta := video.offset(videoRate, video.srNTP) - audio.offset(audioRate, video.srNTP)
	switch {
	case delta >= syncTolerance:
		audio.shift += durationUnits(delta, audioRate)
	case delta <= -syncTolerance:
		video.shift += durationUnits(-delta, videoRate)
	default:
		return 0
	}
	return delta
}

func durationUnits(d time.Duration, rate int64) int64 {
	return int64(d) / int64(time.Millisecond) * rate / 1000
}

func unitsDuration(v, rate int64) time.Duration {
	return clockToDuration(v, rate)
}

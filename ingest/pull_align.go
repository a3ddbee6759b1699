package ingest

import (
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"diemcau/ingest/rtcpsr"
)

// maxAlignShift bounds the correction sender reports may make: a larger
// one means reports whose clocks disagree between tracks, which are
// better ignored than obeyed.
const maxAlignShift = 2 * time.Second

// minAlignShift is below what anyone sees or hears; not worth a jump.
const minAlignShift = 2 * time.Millisecond

// trackAligner lines one RTSP connection's tracks up by the camera's own
// sender reports. gortsplib places each track's first packet by when it
// arrived, so sound sits as far from picture as their first packets'
// arrivals differ from their capture: tens of milliseconds, more on a
// loaded server or after a reconnect. Once each track has had a report,
// the others are moved onto the video's wall clock, once per connection.
type trackAligner struct {
	mu     sync.Mutex
	ref    *description.Media // the video: the others move to it
	tracks map[*description.Media]*alignTrack
	// pending counts the tracks still to place (all but the reference).
	pending int
	// shifted is called once per track moved, for the log.
	shifted func(m *description.Media, by time.Duration)
}

type alignTrack struct {
	clock  int64
	srRTP  uint32
	srNTP  time.Time
	haveSR bool
	// The previous report, to tell how the sender writes its NTP time
	// (reportFormat); 0 until known.
	prevRTP uint32
	prevRaw uint64
	arrival time.Time // of the latest report
	format  ntpFormat
	wallOff time.Duration // wall clock minus PTS at the latest packet after a report
	haveOff bool
	shift   int64 // added to the PTS, in clock units
	done    bool
}

func newTrackAligner(medias []*description.Media, shifted func(*description.Media, time.Duration)) *trackAligner {
	a := &trackAligner{tracks: map[*description.Media]*alignTrack{}, shifted: shifted}
	for _, m := range medias {
		if len(m.Formats) == 0 {
			continue
		}
		a.tracks[m] = &alignTrack{clock: int64(m.Formats[0].ClockRate())}
		if m.Type == description.MediaTypeVideo && a.ref == nil {
			a.ref = m
		}
	}
	for m, t := range a.tracks {
		if a.ref != nil && m != a.ref && t.clock > 0 {
			a.pending++
		}
	}
	return a
}

// ntpFormat is how a sender writes the fraction of its NTP times.
type ntpFormat uint8

const (
	formatUnknown ntpFormat = iota
	formatRFC               // 2⁻³² s, as RFC 3550 says
	formatNanos             // nanoseconds: gortsplib before its fix, and MediaMTX with it
)

// decode reads an NTP time written in format f.
func (f ntpFormat) decode(v uint64) time.Time {
	if f == formatNanos {
		return time.Unix(int64(v>>32)-2208988800, int64(v&0xFFFFFFFF))
	}
	return rtcpsr.NTPTime(v)
}

// senderReport notes a report of m's track, arrived at arrival. A fraction
// of a second at or above 10⁹ can only be RFC 3550's; otherwise two
// reports tell the formats apart when only one reading steps as the RTP
// clock does (reports sent at the same phase of each second step alike
// either way: align then asks the other track).
func (a *trackAligner) senderReport(m *description.Media, sr *rtcp.SenderReport, arrival time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.tracks[m]
	if t == nil || t.clock <= 0 {
		return
	}
	if sr.NTPTime&0xFFFFFFFF >= uint64(time.Second) {
		t.format = formatRFC
	}
	if t.prevRaw != 0 && t.format == formatUnknown {
		step := time.Duration(int64(int32(sr.RTPTime-t.prevRTP)) * int64(time.Second) / t.clock)
		var match []ntpFormat
		for _, f := range []ntpFormat{formatRFC, formatNanos} {
			if d := f.decode(sr.NTPTime).Sub(f.decode(t.prevRaw)); step > 0 && (d-step).Abs() < 5*time.Millisecond {
				match = append(match, f)
			}
		}
		if len(match) == 1 {
			t.format = match[0]
		}
	}
	t.prevRTP, t.prevRaw, t.arrival = sr.RTPTime, sr.NTPTime, arrival
	t.srRTP, t.haveSR = sr.RTPTime, true
}

// settle picks one format for tracks whose reports did not tell: the one
// under which both tracks' reports put the sender's clock at the same
// offset from their arrival (the wrong one splits them by up to 0.77 s).
func (a *trackAligner) settle(t, ref *alignTrack) {
	best, bestGap := formatUnknown, time.Duration(1<<62)
	for _, f := range []ntpFormat{formatRFC, formatNanos} {
		fr, ft := ref.format, t.format
		if fr == formatUnknown {
			fr = f
		}
		if ft == formatUnknown {
			ft = f
		}
		gap := (fr.decode(ref.prevRaw).Sub(ref.arrival) - ft.decode(t.prevRaw).Sub(t.arrival)).Abs()
		if gap < bestGap {
			best, bestGap = f, gap
		}
	}
	if ref.format == formatUnknown {
		ref.format = best
	}
	if t.format == formatUnknown {
		t.format = best
	}
}

// align returns pts (in m's clock units) moved onto the reference track's
// wall clock, and learns from it.
func (a *trackAligner) align(m *description.Media, pkt *rtp.Packet, pts int64) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.tracks[m]
	if t == nil || t.clock <= 0 || a.ref == nil {
		return pts
	}
	if a.pending == 0 {
		return pts + t.shift // every track placed: nothing more to learn
	}
	ref := a.tracks[a.ref]
	if m != a.ref && !t.done && t.haveSR && ref.haveSR && (t.format == formatUnknown || ref.format == formatUnknown) {
		a.settle(t, ref)
	}
	if t.haveSR && t.format != formatUnknown {
		wall := t.format.decode(t.prevRaw).Add(time.Duration(int64(int32(pkt.Timestamp-t.srRTP)) * int64(time.Second) / t.clock))
		t.wallOff = wall.Sub(time.Unix(0, 0)) - time.Duration(pts*int64(time.Second)/t.clock)
		t.haveOff = true
	}
	if m != a.ref && !t.done && t.haveOff && ref.haveOff {
		t.done = true
		a.pending--
		// The PTS this track should have is its wall time on the
		// reference's wall-to-PTS mapping.
		by := t.wallOff - ref.wallOff
		if by.Abs() >= minAlignShift && by.Abs() <= maxAlignShift {
			t.shift = int64(by) * t.clock / int64(time.Second)
			if a.shifted != nil {
				a.shifted(m, by)
			}
		}
	}
	return pts + t.shift
}

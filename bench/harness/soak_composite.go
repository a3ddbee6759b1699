package harness

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// compositeWatch reads the session's composite over RTSP, as a hardware
// decoder at a point does, and times the gaps between whole frames. The
// clock runs within one server lifetime: it stops when the soak is about
// to kill the server and starts again at the first frame after the
// restart, so a kill window (down, restart, resume) is never a stall. A
// reader dropped while the server lives is reconnected and its gap counts.
type compositeWatch struct {
	url, user, pass string
	epoch           time.Time // the soak's start, for the stalls' times
	limitMs         float64

	mu        sync.Mutex
	paused    bool
	last      time.Time // the previous whole frame, this lifetime
	frames    uint64
	maxGap    float64          // ms
	intervals []float64        // ms
	stalls    []CompositeStall // gaps over half the limit, when they began
	drops     int              // readers lost while the server lived
	opened    int
	// arrivals are the latest frames' arrival times, kept through a
	// pause, so a kill can count the frames sent after the recorder's
	// last write (see killSnapshot); since is this lifetime's first.
	arrivals [arrivalRing]time.Time
	next     int
	since    time.Time
}

// arrivalRing holds about 17 s of frames at 30 fps.
const arrivalRing = 512

// CompositeStall is a gap between two composite frames at the reader.
type CompositeStall struct {
	AtS float64 `json:"at_s"` // when the picture stopped, seconds into the soak
	Ms  float64 `json:"ms"`
	// MachineMs is how long within it the bench itself was not run (see
	// heartbeat); ServerMs, the rest, is the server's part and is judged.
	MachineMs float64 `json:"machine_ms"`
	ServerMs  float64 `json:"server_ms"`

	from, to time.Time
}

// StallFigures are the composite's frame arrivals over the soak.
type StallFigures struct {
	Frames      uint64           `json:"frames"`
	MaxGapMs    float64          `json:"max_gap_ms"`        // as the reader saw it
	MaxServerMs float64          `json:"max_server_gap_ms"` // less the machine's freezes: judged
	IntervalMs  Percentiles      `json:"frame_interval_ms"`
	P999Ms      float64          `json:"frame_interval_p999_ms"`
	Stalls      []CompositeStall `json:"stalls"`       // gaps over half the limit, longest server part first (at most 20)
	OverLimit   int              `json:"over_limit"`   // server parts over the slate delay
	GapsOver    int              `json:"gaps_over"`    // gaps over it as the reader saw them
	ReaderDrops int              `json:"reader_drops"` // readers the server ended while it lived
	// ReadersOpened: one per lifetime, and one per drop.
	ReadersOpened int `json:"readers_opened"`
	// The machine's freezes over the whole soak, from the heartbeat.
	MachineFreezes  int     `json:"machine_freezes"`
	MachineLongestS float64 `json:"machine_longest_freeze_s"`
	MachineTotalS   float64 `json:"machine_frozen_s"`
}

// run keeps one reader open while the server is up, until ctx ends.
func (w *compositeWatch) run(ctx context.Context, life *serverLife, tl *soakTimeline) {
	for ctx.Err() == nil {
		gen, changed, err := life.waitUp(ctx)
		if err != nil {
			return
		}
		for life.isGen(gen) && ctx.Err() == nil {
			c, err := w.open()
			if err != nil {
				select {
				case <-ctx.Done():
				case <-changed:
				case <-time.After(time.Second):
				}
				continue
			}
			w.mu.Lock()
			w.opened++
			w.mu.Unlock()
			ended := make(chan struct{})
			var why error
			go func() { why = c.Wait(); close(ended) }()
			select {
			case <-ended:
				if life.isGen(gen) && ctx.Err() == nil {
					w.mu.Lock()
					w.drops++
					w.mu.Unlock()
					tl.add("reader-dropped", "%v", why)
				}
			case <-changed:
			case <-ctx.Done():
			}
			c.Close()
			<-ended
		}
	}
}

// pause stops the clock before a kill; resume is implied by the next
// lifetime's first frame.
func (w *compositeWatch) pause() {
	w.mu.Lock()
	w.paused, w.last = true, time.Time{}
	w.mu.Unlock()
}

func (w *compositeWatch) resume() {
	w.mu.Lock()
	w.paused, w.since = false, time.Time{}
	w.mu.Unlock()
}

// framesBetween counts the frames that arrived in (from, to]; false when
// the reader was not yet reading at from, or from is older than the ring.
func (w *compositeWatch) framesBetween(from, to time.Time) (int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	oldest := w.arrivals[w.next%arrivalRing]
	if w.since.IsZero() || w.since.After(from) || (!oldest.IsZero() && oldest.After(from)) {
		return 0, false
	}
	n := 0
	for _, at := range w.arrivals {
		if at.After(from) && !at.After(to) {
			n++
		}
	}
	return n, true
}

// open connects and plays; frames are timed as they come.
func (w *compositeWatch) open() (*gortsplib.Client, error) {
	u, err := base.ParseURL(w.url)
	if err != nil {
		return nil, err
	}
	u.User = url.UserPassword(w.user, w.pass)
	tcp := gortsplib.TransportTCP
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Transport: &tcp, ReadTimeout: 10 * time.Second,
		OnPacketsLost: func(uint64) {}, OnDecodeError: func(error) {}}
	if err := c.Start2(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	desc, _, err := c.Describe(u)
	if err != nil {
		return nil, fmt.Errorf("describe: %w", err)
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		return nil, fmt.Errorf("%s: no H.264 track", w.url)
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		return nil, err
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	keyed := false
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		au, err := dec.Decode(pkt)
		if err != nil {
			return
		}
		if !keyed {
			if keyed = h264.IsRandomAccess(au); !keyed {
				return
			}
		}
		w.frame(time.Now())
	})
	if _, err := c.Play(nil); err != nil {
		return nil, fmt.Errorf("play: %w", err)
	}
	ok = true
	return c, nil
}

func (w *compositeWatch) frame(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.arrivals[w.next%arrivalRing] = now
	w.next++
	if w.since.IsZero() {
		w.since = now
	}
	if w.paused {
		return
	}
	if !w.last.IsZero() {
		gap := float64(now.Sub(w.last).Microseconds()) / 1000
		w.intervals = append(w.intervals, gap)
		w.maxGap = max(w.maxGap, gap)
		if gap > w.limitMs/2 {
			w.stalls = append(w.stalls, CompositeStall{AtS: w.last.Sub(w.epoch).Seconds(), Ms: gap, from: w.last, to: now})
		}
	}
	w.last = now
	w.frames++
}

// sofar is the frames and the longest gap so far, for the progress line.
func (w *compositeWatch) sofar() (uint64, float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.frames, w.maxGap
}

// end closes the clock when the soak stops: a picture still missing
// then is a stall too, however it would have ended.
func (w *compositeWatch) end(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paused || w.last.IsZero() {
		return
	}
	if gap := float64(now.Sub(w.last).Microseconds()) / 1000; gap > w.limitMs/2 {
		w.stalls = append(w.stalls, CompositeStall{AtS: w.last.Sub(w.epoch).Seconds(), Ms: gap, from: w.last, to: now})
		w.maxGap = max(w.maxGap, gap)
	}
	w.paused = true
}

// figures sums up the soak's frame arrivals, each stall less the
// machine's freezes within it.
func (w *compositeWatch) figures(hb *heartbeat) StallFigures {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := StallFigures{Frames: w.frames, IntervalMs: percentiles(w.intervals), ReaderDrops: w.drops, ReadersOpened: w.opened, Stalls: []CompositeStall{}}
	if n := len(w.intervals); n > 0 {
		s := append([]float64(nil), w.intervals...)
		sort.Float64s(s)
		f.P999Ms = s[int(0.999*float64(n-1)+0.5)]
		// Gaps up to half the limit are not kept as stalls: the longest
		// of them is the server's part for all it is known.
		if i := sort.SearchFloat64s(s, w.limitMs/2+1e-9); i > 0 {
			f.MaxServerMs = s[i-1]
		}
	}
	f.MaxGapMs = w.maxGap
	st := append([]CompositeStall(nil), w.stalls...)
	for i := range st {
		st[i].MachineMs = float64(hb.frozen(st[i].from, st[i].to).Microseconds()) / 1000
		st[i].ServerMs = st[i].Ms - st[i].MachineMs
		f.MaxServerMs = max(f.MaxServerMs, st[i].ServerMs)
		if st[i].ServerMs > w.limitMs {
			f.OverLimit++
		}
		if st[i].Ms > w.limitMs {
			f.GapsOver++
		}
	}
	sort.Slice(st, func(i, j int) bool { return st[i].ServerMs > st[j].ServerMs })
	n, longest, total := hb.summary()
	f.MachineFreezes, f.MachineLongestS, f.MachineTotalS = n, longest.Seconds(), total.Seconds()
	if len(st) > 20 {
		st = st[:20]
	}
	f.Stalls = append(f.Stalls, st...)
	return f
}

package mixer

import (
	"context"
	"errors"
	"time"

	"diemcau/pipeline"
	"diemcau/pipeline/gst"
	"diemcau/pipeline/h26x"
)

// inputRequest asks the owner for a decoding branch of that format. The
// owner closes done once it tried, so the feeder can push the very frame
// (a keyframe) that asked, instead of waiting a whole GOP for the next.
type inputRequest struct {
	point  int    // slot
	gen    uint64 // the joining of that slot that asks
	kind   pipeline.Kind
	format gst.InputFormat
	done   chan struct{}
}

// resyncGap: video that resumes after a silence this long waits for a
// keyframe, as the decoder lost its references (a camera that dropped off
// and came back mid-GOP).
const resyncGap = 500 * time.Millisecond

// feedQueue is a point's reader queue: about 4 s of 30 fps video and its
// audio. A feeder that falls further behind loses frames (counted by the
// reader) and resumes at the next keyframe.
const feedQueue = 256

// feeder reads one point's streams — the main one and, for a camera with
// a sub-stream, the sub-stream — and pushes their frames into the mix,
// placed on the mix's clock by arrival. Sound always comes from the main
// stream; pictures from the feed choose (feedchoice.go) picks for the
// tile. It never waits for the mix: a frame the mix cannot take now is
// dropped.
type feeder struct {
	m     *Mixer
	point int
	gen   uint64
	id    string
	mix   *gst.Mix
	sides [2]*feedSide // feedMain, feedSub (nil: none)

	cur        int           // the feed whose pictures go in; -1 none yet
	switched   bool          // cur changed with the frame in hand
	lastPushAt time.Duration // mix time of the last picture pushed; -1 none
	lastStamp  time.Duration // its stamp: pictures keep rising across feeds
	gate       pipeline.KeyGate

	track     [2]*pipeline.Track
	format    [2]gst.InputFormat
	key       [2]string
	requested [2]string
}

// feed runs a point's feeder until ctx ends or its main stream closes (the
// point's tile then shows its slate). sub may be nil.
func (m *Mixer) feed(ctx context.Context, point int, gen uint64, id string, main, sub *pipeline.Stream, mix *gst.Mix) {
	fd := &feeder{m: m, point: point, gen: gen, id: id, mix: mix, cur: -1, lastPushAt: -1}
	name := "mixer/" + m.cfg.Session + "/" + id
	fd.sides[feedMain] = newFeedSide(main, name)
	if sub != nil {
		fd.sides[feedSub] = newFeedSide(sub, name+"/sub")
	}
	defer func() {
		for _, s := range fd.sides {
			if s != nil {
				s.r.Close()
			}
		}
	}()
	m.feedInUse[point].Store(-1)
	for {
		progressed := false
		for i, s := range fd.sides {
			if s == nil {
				continue
			}
			f, err := s.r.Poll()
			if err != nil {
				if i == feedSub {
					// The sub-stream went; the main one carries on.
					s.r.Close()
					fd.sides[feedSub] = nil
					continue
				}
				// A point that goes away shows its slate; it never ends
				// the session.
				if !errors.Is(err, pipeline.ErrStreamClosed) && ctx.Err() == nil {
					m.log.Warn("point feed stopped", "point", id, "error", err)
				}
				return
			}
			if f != nil {
				progressed = true
				if !fd.frame(ctx, i, f) {
					return
				}
			}
		}
		if progressed {
			continue
		}
		var subWake <-chan struct{}
		if s := fd.sides[feedSub]; s != nil {
			subWake = s.r.Wake()
		}
		select {
		case <-fd.sides[feedMain].r.Wake():
		case <-subWake:
		case <-ctx.Done():
			return
		}
	}
}

// frame handles one frame of feed side; false when ctx ended.
func (fd *feeder) frame(ctx context.Context, side int, f *pipeline.Frame) bool {
	if f.Track == nil || f.Track.Kind() == 0 {
		return true
	}
	kind := f.Track.Kind()
	if side == feedSub && kind != pipeline.Video {
		return true // the point's sound is the main stream's
	}
	now := fd.mix.RunningTime()
	if now < 0 {
		return true
	}
	k := kindSlot(kind)
	s := fd.sides[side]
	// Every frame of both feeds goes through its pacer, so the one not
	// shown is warm when it takes over.
	stamp := s.pace.place(f.PTS, now, k)
	if side == feedSub {
		// The sub-stream's pictures are held back as much as the main
		// stream's, whose jitter buffer also waits for its sound.
		stamp += max(0, fd.sides[feedMain].pace.hold()-s.pace.hold())
	}
	if kind == pipeline.Video {
		s.video, s.lastVideo = f.Track, now
		if !fd.choose(side, f.Key, now) {
			return true
		}
		if fd.lastPushAt >= 0 && now-fd.lastPushAt > resyncGap {
			fd.gate.Lose()
		}
		fd.lastPushAt = now
		if !fd.gate.Pass(f.Key) {
			fd.m.feedDropped[fd.point].Add(1)
			return true
		}
		if fd.switched {
			fd.switched = false
			fd.m.feedSwitchGap[fd.point].Store(int64(stamp - fd.lastStamp))
		}
		if stamp <= fd.lastStamp {
			// The two feeds' pacers differ a little; the branch takes
			// rising times.
			stamp = fd.lastStamp + time.Microsecond
		}
		fd.lastStamp = stamp
	}
	if f.Track != fd.track[k] {
		fd.track[k] = f.Track
		fd.format[k] = gst.InputFormatOf(f.Track)
		fd.key[k] = fd.format[k].Key()
	}
	dts := stamp
	if kind == pipeline.Video && f.DTS <= f.PTS {
		dts = stamp - (f.PTS - f.DTS)
	}
	var data []byte
	var dur time.Duration = -1
	if kind == pipeline.Video {
		data = h26x.AppendAnnexB(nil, f) // a new buffer: the input keeps it
		if f.Track.FPS > 0 {
			dur = time.Duration(float64(time.Second) / f.Track.FPS)
		}
	} else {
		data = f.Payload
	}
	in := fd.mix.Input(fd.point, kind)
	st := in.Push(fd.key[k], data, stamp, dts, dur, f.Key)
	if st == gst.NoBranch && fd.requested[k] != fd.key[k] {
		// Ask once per format; the owner retries failed builds itself.
		fd.requested[k] = fd.key[k]
		req := inputRequest{point: fd.point, gen: fd.gen, kind: kind, format: fd.format[k], done: make(chan struct{})}
		select {
		case fd.m.inputReqs <- req:
		case <-ctx.Done():
			return false
		}
		select {
		case <-req.done:
		case <-ctx.Done():
			return false
		}
		st = in.Push(fd.key[k], data, stamp, dts, dur, f.Key)
	}
	if st == gst.Pushed && kind == pipeline.Video {
		fd.m.latency.pushed(fd.point, stamp, now)
	}
	return true
}

func kindSlot(k pipeline.Kind) int {
	if k == pipeline.Audio {
		return 1
	}
	return 0
}

package mixer

import (
	"context"
	"errors"
	"time"

	"diemcau/pipeline"
	"diemcau/pipeline/gst"
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

// feed reads one point's stream and pushes its frames into the mix, placed
// on the mix's clock by arrival. It never waits for the mix: a frame the
// mix cannot take now is dropped. It returns when ctx ends or the stream
// closes (the point's tile then shows its slate).
func (m *Mixer) feed(ctx context.Context, point int, gen uint64, id string, stream *pipeline.Stream, mix *gst.Mix) {
	r := stream.NewReader(pipeline.ReaderConfig{
		Name: "mixer/" + m.cfg.Session + "/" + id, Queue: feedQueue, FromKeyframe: true,
	})
	defer r.Close()
	var (
		pace      pacer
		track     [2]*pipeline.Track
		format    [2]gst.InputFormat
		key       [2]string
		requested [2]string
		lastVideo time.Duration = -1
		gate      pipeline.KeyGate
	)
	for {
		f, err := r.Read(ctx)
		if err != nil {
			// A point that goes away shows its slate; it never ends the
			// session.
			if !errors.Is(err, pipeline.ErrStreamClosed) && ctx.Err() == nil {
				m.log.Warn("point feed stopped", "point", id, "error", err)
			}
			return
		}
		if f.Track == nil || f.Track.Kind() == 0 {
			continue
		}
		kind := f.Track.Kind()
		k := kindSlot(kind)
		if f.Track != track[k] {
			track[k] = f.Track
			format[k] = gst.InputFormatOf(f.Track)
			key[k] = format[k].Key()
		}
		now := mix.RunningTime()
		if now < 0 {
			continue
		}
		if kind == pipeline.Video {
			if lastVideo >= 0 && now-lastVideo > resyncGap {
				gate.Lose()
			}
			lastVideo = now
			if !gate.Pass(f.Key) {
				m.feedDropped[point].Add(1)
				continue
			}
		}
		stamp := pace.place(f.PTS, now, k)
		dts := stamp
		if kind == pipeline.Video && f.DTS <= f.PTS {
			dts = stamp - (f.PTS - f.DTS)
		}
		var data []byte
		var dur time.Duration = -1
		if kind == pipeline.Video {
			data = annexB(f)
			if f.Track.FPS > 0 {
				dur = time.Duration(float64(time.Second) / f.Track.FPS)
			}
		} else {
			data = f.Payload
		}
		in := mix.Input(point, kind)
		st := in.Push(key[k], data, stamp, dts, dur, f.Key)
		if st == gst.NoBranch && requested[k] != key[k] {
			// Ask once per format; the owner retries failed builds itself.
			requested[k] = key[k]
			req := inputRequest{point: point, gen: gen, kind: kind, format: format[k], done: make(chan struct{})}
			select {
			case m.inputReqs <- req:
			case <-ctx.Done():
				return
			}
			select {
			case <-req.done:
			case <-ctx.Done():
				return
			}
			st = in.Push(key[k], data, stamp, dts, dur, f.Key)
		}
		if st == gst.Pushed && kind == pipeline.Video {
			m.latency.pushed(point, stamp, now)
		}
	}
}

func kindSlot(k pipeline.Kind) int {
	if k == pipeline.Audio {
		return 1
	}
	return 0
}

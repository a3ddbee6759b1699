package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// rtspReader plays an RTSP path (the composite at /sessions/{id}) as a
// hardware decoder at a point would, and counts whole H.264 access units
// from the first keyframe on, the RTP packets lost, and the spacing of the
// frames while a window is open.
type rtspReader struct {
	url        string
	frameTicks uint32 // 90 kHz ticks per frame at the expected rate
	client     *gortsplib.Client
	closeOnce  sync.Once

	mu         sync.Mutex
	started    time.Time
	firstFrame time.Duration // request to the first keyframe access unit
	keyed      bool
	frames     uint64
	lost       uint64
	missing    uint64 // frames skipped, by RTP timestamp gaps
	lastTS     uint32
	recording  bool
	lastAt     time.Time
	intervals  []float64 // ms between frames, while recording
}

// start connects and plays; the first-frame time runs from here.
func (r *rtspReader) start() error {
	u, err := base.ParseURL(r.url)
	if err != nil {
		return err
	}
	tcp := gortsplib.TransportTCP
	r.client = &gortsplib.Client{
		Scheme: u.Scheme, Host: u.Host, Transport: &tcp, ReadTimeout: 10 * time.Second,
		OnPacketsLost: func(n uint64) {
			r.mu.Lock()
			r.lost += n
			r.mu.Unlock()
		},
		OnDecodeError: func(error) {},
	}
	r.mu.Lock()
	r.started = time.Now()
	r.mu.Unlock()
	if err := r.client.Start2(); err != nil {
		return fmt.Errorf("rtsp %s: %w", r.url, err)
	}
	ok := false
	defer func() {
		if !ok {
			r.client.Close()
		}
	}()
	desc, _, err := r.client.Describe(u)
	if err != nil {
		return fmt.Errorf("rtsp %s: describe: %w", r.url, err)
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		return fmt.Errorf("rtsp %s: no H.264 track", r.url)
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		return err
	}
	if _, err := r.client.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return fmt.Errorf("rtsp %s: setup: %w", r.url, err)
	}
	r.client.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		au, err := dec.Decode(pkt)
		if err != nil {
			return // more packets needed, or a broken frame (counted as lost)
		}
		r.frame(au, pkt.Timestamp)
	})
	if _, err := r.client.Play(nil); err != nil {
		return fmt.Errorf("rtsp %s: play: %w", r.url, err)
	}
	ok = true
	return nil
}

func (r *rtspReader) frame(au [][]byte, ts uint32) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.keyed {
		if !h264.IsRandomAccess(au) {
			return
		}
		r.keyed = true
		r.firstFrame = now.Sub(r.started)
	} else {
		r.missing += missingFrames(r.lastTS, ts, r.frameTicks)
	}
	r.lastTS = ts
	r.frames++
	if r.recording && !r.lastAt.IsZero() {
		r.intervals = append(r.intervals, float64(now.Sub(r.lastAt).Microseconds())/1000)
	}
	r.lastAt = now
}

// readerCounts is a snapshot of the reader's counters.
type readerCounts struct {
	frames, lost, missing uint64
	at                    time.Time
}

func (r *rtspReader) counts() readerCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return readerCounts{frames: r.frames, lost: r.lost, missing: r.missing, at: time.Now()}
}

// record starts or stops keeping frame intervals.
func (r *rtspReader) record(on bool) {
	r.mu.Lock()
	r.recording = on
	r.mu.Unlock()
}

func (r *rtspReader) intervalPercentiles() Percentiles {
	r.mu.Lock()
	defer r.mu.Unlock()
	return percentiles(r.intervals)
}

// waitFirstFrame waits for the first keyframe and returns the time it took.
func (r *rtspReader) waitFirstFrame(ctx context.Context, d time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(d)
	for {
		r.mu.Lock()
		keyed, ff := r.keyed, r.firstFrame
		r.mu.Unlock()
		if keyed {
			return ff, nil
		}
		if time.Now().After(deadline) {
			return 0, errors.New("rtsp " + r.url + ": no keyframe within " + d.String())
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (r *rtspReader) close() {
	r.closeOnce.Do(func() {
		if r.client != nil {
			r.client.Close()
		}
	})
}

// missingFrames is how many frames fit in the timestamp gap between two
// consecutive frames beyond the one expected (0 for a step backwards).
func missingFrames(prev, ts, ticks uint32) uint64 {
	d := ts - prev
	if ticks == 0 || d >= 1<<31 {
		return 0
	}
	if n := (uint64(d) + uint64(ticks)/2) / uint64(ticks); n > 1 {
		return n - 1
	}
	return 0
}

package harness

import (
	"fmt"
	"net/url"
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
	user, pass string // the login, when readers need one
	client     *gortsplib.Client
	closeOnce  sync.Once

	// Under frameTally's mu, with it:
	frameTally
	keyed bool
	lost  uint64
}

// start connects and plays; the first-frame time runs from here.
func (r *rtspReader) start() error {
	u, err := base.ParseURL(r.url)
	if err != nil {
		return err
	}
	if r.user != "" {
		u.User = url.UserPassword(r.user, r.pass)
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
	}
	r.wholeFrame(ts, now)
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

func (r *rtspReader) close() {
	r.closeOnce.Do(func() {
		if r.client != nil {
			r.client.Close()
		}
	})
}

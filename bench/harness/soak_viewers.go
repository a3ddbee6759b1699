package harness

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"diemcau/bench/whepclient"
)

// viewerChurn is the soak's WHEP viewers of the composite: each slot joins,
// stays a random while, leaves and joins again, for the whole soak. A
// viewer of a server that is killed leaves at once and joins the next
// one after a random 0–3 s, as browsers retrying would.
type viewerChurn struct {
	base, path, token string
	stayMin, stayMax  time.Duration
	pause             time.Duration
	api               *webrtc.API

	now atomic.Int64 // viewers with media right now

	mu       sync.Mutex
	joins    int // answered (201) and applied
	withData int // of those, video arrived within mediaWait
	failed   int // offers refused or failed while the server lived
	noMedia  int // joined but no video within mediaWait while the server lived
	firstErr string
}

// mediaWait is how long a joined viewer waits for its first video packet.
const mediaWait = 15 * time.Second

// ViewerChurnFigures are the churning viewers' counts over the soak.
type ViewerChurnFigures struct {
	Slots      int    `json:"slots"`
	Joins      int    `json:"joins"`
	WithMedia  int    `json:"with_media"`
	Failed     int    `json:"failed"`   // outside kill windows
	NoMedia    int    `json:"no_media"` // outside kill windows
	FirstError string `json:"first_error,omitempty"`
}

func (vc *viewerChurn) figures(slots int) ViewerChurnFigures {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	return ViewerChurnFigures{Slots: slots, Joins: vc.joins, WithMedia: vc.withData, Failed: vc.failed, NoMedia: vc.noMedia, FirstError: vc.firstErr}
}

func (vc *viewerChurn) count(f func()) {
	vc.mu.Lock()
	f()
	vc.mu.Unlock()
}

// slot is one viewer's life over the soak.
func (vc *viewerChurn) slot(ctx context.Context, life *serverLife, rng *rand.Rand) {
	wait := func(d time.Duration, changed <-chan struct{}) {
		select {
		case <-ctx.Done():
		case <-changed:
		case <-time.After(d):
		}
	}
	for ctx.Err() == nil {
		gen, changed, err := life.waitUp(ctx)
		if err != nil {
			return
		}
		if ok := vc.visit(ctx, life, gen, changed, rng); !ok {
			wait(vc.pause, changed)
		}
		if !life.isGen(gen) {
			// The server was killed: the next one is joined a little
			// later, not by every viewer in the same instant.
			wait(time.Duration(rng.Int64N(int64(3*time.Second))), nil)
			continue
		}
		wait(vc.pause/2+time.Duration(rng.Int64N(int64(vc.pause))), nil)
	}
}

// visit joins, stays and leaves; false when the join failed.
func (vc *viewerChurn) visit(ctx context.Context, life *serverLife, gen int, changed <-chan struct{}, rng *rand.Rand) bool {
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-changed:
			cancel()
		case <-dctx.Done():
		}
	}()
	video := make(chan struct{})
	var once sync.Once
	v, err := whepclient.Dial(dctx, vc.api, vc.base, vc.path, vc.token, func(tr *webrtc.TrackRemote) {
		isVideo := tr.Kind() == webrtc.RTPCodecTypeVideo
		whepclient.EachPacket(tr, func([]byte) {
			if isVideo {
				once.Do(func() { close(video) })
			}
		})
	})
	if err != nil {
		if life.isGen(gen) && ctx.Err() == nil {
			vc.count(func() {
				vc.failed++
				if vc.firstErr == "" {
					vc.firstErr = err.Error()
				}
			})
		}
		return false
	}
	defer v.Close()
	vc.count(func() { vc.joins++ })
	select {
	case <-video:
		vc.count(func() { vc.withData++ })
	case <-time.After(mediaWait):
		if life.isGen(gen) && ctx.Err() == nil {
			vc.count(func() { vc.noMedia++ })
		}
		return true
	case <-changed:
		return true
	case <-ctx.Done():
		return true
	}
	vc.now.Add(1)
	defer vc.now.Add(-1)
	stay := vc.stayMin + time.Duration(rng.Int64N(int64(vc.stayMax-vc.stayMin)+1))
	select {
	case <-time.After(stay):
	case <-changed:
	case <-ctx.Done():
	}
	return true
}

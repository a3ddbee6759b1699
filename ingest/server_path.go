package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"

	"diemcau/ingest/rtcpsr"
	"diemcau/pipeline"
)

var (
	errNoMedia       = errors.New("no media yet")
	errPathClosed    = errors.New("no longer served")
	errServerStopped = errors.New("server not running")
)

// servedPath re-serves one pipeline.Stream over RTSP. While at least one
// RTSP reader plays, one pump goroutine reads the stream (from its last
// keyframe, so the first reader's decoder starts at once), packetises each
// frame once and writes it to the gortsplib ServerStream, which copies it to
// every reader. With no readers nothing is read or packetised.
type servedPath struct {
	name   string
	stream *pipeline.Stream
	srv    *Server

	mu         sync.Mutex
	out        *outStream
	viewers    map[*gortsplib.ServerSession]struct{}
	pumpCancel context.CancelFunc
	pumpDone   chan struct{}
	closed     bool
}

// outStream is the RTSP side of a served path for one set of tracks. A
// change of codec parameters replaces it, which disconnects the readers of
// the old one (they reconnect and DESCRIBE the new parameters).
type outStream struct {
	ss          *gortsplib.ServerStream
	tracks      []*pipeline.Track
	packetizers []*Packetizer     // by track index; nil for a track RTSP cannot carry
	seen        []*pipeline.Track // last track pointer accepted per index; pump only
	clock       senderClock       // pump only
	reports     []*rtcpsr.Track   // by track index: what the sender reports say (server_reports.go)
}

// senderClock maps frame times to the wall clock of the RTCP sender
// reports from one anchor for every track of the stream. A reader lines
// audio up with video through those reports, so each track's mapping must
// follow the frames' shared timeline: taking each frame's own arrival or
// encode time instead would shift a track by however late its frames came
// (audio that a camera or encoder sends in bursts, an audio encoder slower
// than the video one) and put the sound out of step with the picture.
type senderClock struct {
	wall   time.Time
	pts    time.Duration
	anchor bool
}

// ntp is the wall-clock time of f on the stream's timeline; the first frame
// with a wall time anchors it.
func (c *senderClock) ntp(f *pipeline.Frame) time.Time {
	if !c.anchor {
		c.wall, c.pts, c.anchor = f.Wall, f.PTS, true
		if c.wall.IsZero() {
			c.wall = time.Now()
		}
	}
	return c.wall.Add(f.PTS - c.pts)
}

// current returns the outStream matching the stream's tracks, building it
// when there is none or the parameters changed.
func (p *servedPath) current() (*outStream, error) {
	tracks := p.stream.Tracks()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errPathClosed
	}
	if p.out != nil && sameTrackList(p.out.tracks, tracks) {
		out := p.out
		p.mu.Unlock()
		return out, nil
	}
	if len(tracks) == 0 {
		p.mu.Unlock()
		return nil, errNoMedia
	}
	out, err := p.newOutStream(tracks)
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	old := p.out
	p.out = out
	p.mu.Unlock()
	if old != nil {
		p.srv.log.Info("codec parameters changed; RTSP readers reconnect", "path", "/"+p.name)
		old.ss.Close() // outside p.mu: closing readers calls back into removeViewer
	}
	return out, nil
}

func (p *servedPath) newOutStream(tracks []*pipeline.Track) (*outStream, error) {
	srv := p.srv.gortsplibServer()
	if srv == nil {
		return nil, errServerStopped
	}
	out := &outStream{
		tracks:      tracks,
		packetizers: make([]*Packetizer, len(tracks)),
		seen:        make([]*pipeline.Track, len(tracks)),
		reports:     make([]*rtcpsr.Track, len(tracks)),
	}
	desc := &description.Session{Title: p.name}
	var skipped []string
	for i, t := range tracks {
		pk, err := NewPacketizer(t)
		if err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		out.packetizers[i] = pk
		out.seen[i] = t
		out.reports[i] = rtcpsr.NewTrack(pk.Format().ClockRate())
		desc.Medias = append(desc.Medias, pk.Media())
	}
	if len(desc.Medias) == 0 {
		return nil, fmt.Errorf("no track can be served over RTSP: %s", strings.Join(skipped, "; "))
	}
	if len(skipped) > 0 {
		p.srv.log.Warn("tracks left out of RTSP", "path", "/"+p.name, "reason", strings.Join(skipped, "; "))
	}
	out.ss = &gortsplib.ServerStream{Server: srv, Desc: desc}
	if err := out.ss.Initialize(); err != nil {
		return nil, fmt.Errorf("server stream: %w", err)
	}
	return out, nil
}

func sameTrackList(a, b []*pipeline.Track) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameTrackParams(a[i], b[i]) {
			return false
		}
	}
	return true
}

func (p *servedPath) addViewer(ss *gortsplib.ServerSession) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errPathClosed
	}
	p.viewers[ss] = struct{}{}
	if p.pumpCancel != nil {
		p.mu.Unlock()
		// The pump is mid-GOP: ask the writer (the mixer's encoder) for a
		// keyframe so this decoder need not wait for the next one.
		p.stream.RequestKeyframe()
		return nil
	}
	if err := p.startPumpLocked(); err != nil {
		delete(p.viewers, ss)
		p.mu.Unlock()
		return err
	}
	p.mu.Unlock()
	return nil
}

func (p *servedPath) removeViewer(ss *gortsplib.ServerSession) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.viewers, ss)
	if len(p.viewers) == 0 && p.pumpCancel != nil {
		p.pumpCancel()
		p.pumpCancel = nil
	}
}

func (p *servedPath) viewerCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.viewers)
}

func (p *servedPath) startPumpLocked() error {
	prev := p.pumpDone
	done := make(chan struct{})
	cancel, started := p.srv.goPump(func(ctx context.Context) {
		defer close(done)
		if prev != nil {
			<-prev // packetizers are used by one pump at a time
		}
		p.pump(ctx)
		p.mu.Lock()
		if p.pumpDone == done {
			p.pumpCancel = nil // ended on its own (stream closed): the next reader starts another
		}
		p.mu.Unlock()
	})
	if !started {
		return errServerStopped
	}
	p.pumpDone = done
	p.pumpCancel = cancel
	return nil
}

// pump is the one reader of the stream for all RTSP readers of the path.
func (p *servedPath) pump(ctx context.Context) {
	r := p.stream.NewReader(pipeline.ReaderConfig{Name: "rtsp /" + p.name, FromKeyframe: true})
	defer func() {
		if d := r.Stats().Dropped; d > 0 {
			p.srv.log.Warn("RTSP re-serve fell behind the stream", "path", "/"+p.name, "frames_dropped", d)
		}
		r.Close()
	}()
	reports, stopReports := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { p.report(reports) })
	defer func() { stopReports(); wg.Wait() }()
	for {
		f, err := r.Read(ctx)
		if err != nil {
			return
		}
		p.writeFrame(f)
	}
}

// report sends the sender reports of the path's tracks every
// rtcpsr.Period while readers play.
func (p *servedPath) report(ctx context.Context) {
	rtcpsr.Every(ctx, func(now time.Time) {
		if out := p.snapshot(); out != nil {
			out.sendReports(now)
		}
	})
}

func (p *servedPath) snapshot() *outStream {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out
}

// writeFrame packetises f and hands the packets to gortsplib.
func (p *servedPath) writeFrame(f *pipeline.Frame) {
	if f.Track == nil {
		return
	}
	out := p.snapshot()
	pk, ok := out.match(f.Track)
	if !ok {
		// New codec parameters: rebuild (readers reconnect) and drop this
		// frame, which nobody can be reading on the new stream yet.
		_, err := p.current()
		if err != nil && !errors.Is(err, errPathClosed) && !errors.Is(err, errServerStopped) {
			p.srv.packetizeErrors.add(fmt.Sprintf("/%s: %v", p.name, err))
		}
		return
	}
	if pk == nil {
		return
	}
	pkts, err := pk.Packetize(f)
	if err != nil {
		p.srv.packetizeErrors.add(fmt.Sprintf("/%s: %v", p.name, err))
		return
	}
	ntp := out.clock.ntp(f)
	media := pk.Media()
	now := time.Now()
	for _, pkt := range pkts {
		err := out.ss.WritePacketRTPWithNTP(media, pkt, ntp)
		if err != nil {
			var closed liberrors.ErrServerStreamClosed
			if !errors.As(err, &closed) {
				p.srv.writeErrors.add(fmt.Sprintf("/%s: %v", p.name, err))
			}
			return
		}
		// gortsplib has set the packet's SSRC: the reports use it.
		out.reports[f.Track.Index].Wrote(pkt, ntp, f.PTS == f.DTS, now)
	}
}

// match returns the packetizer for t's frames; ok is false when t does not
// belong to this outStream (its parameters changed).
func (o *outStream) match(t *pipeline.Track) (*Packetizer, bool) {
	if o == nil || t.Index < 0 || t.Index >= len(o.tracks) {
		return nil, false
	}
	i := t.Index
	if o.seen[i] == t {
		return o.packetizers[i], true
	}
	if !sameTrackParams(o.tracks[i], t) {
		return nil, false
	}
	o.seen[i] = t // same parameters under a new pointer (encoder reconnected)
	return o.packetizers[i], true
}

// closeStream disconnects the readers at shutdown; the path stays.
func (p *servedPath) closeStream() {
	p.mu.Lock()
	old := p.out
	p.out = nil
	if p.pumpCancel != nil {
		p.pumpCancel()
		p.pumpCancel = nil
	}
	p.mu.Unlock()
	if old != nil {
		old.ss.Close()
	}
}

// close ends serving: the pump stops and the readers are disconnected.
func (p *servedPath) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.closeStream()
}

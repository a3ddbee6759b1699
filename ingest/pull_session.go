package ingest

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// Timing of one pull session.
const (
	// requestTimeout bounds each RTSP request (DESCRIBE, SETUP, PLAY).
	requestTimeout = 5 * time.Second
	// udpFirstPacketTimeout is how long auto transport waits for a UDP
	// packet before gortsplib switches to TCP (firewalls often drop UDP).
	udpFirstPacketTimeout = 2 * time.Second
	// noDataTimeout ends a session whose camera stopped sending, so that the
	// source shows offline within two seconds.
	noDataTimeout = 1500 * time.Millisecond
	// firstDataTimeout is the same before the first packet; it leaves room
	// for the UDP-to-TCP fallback.
	firstDataTimeout = udpFirstPacketTimeout + 4*time.Second
	watchdogTick     = 250 * time.Millisecond
	// decodeSummaryEvery is how often decode errors are logged, as a count.
	decodeSummaryEvery = time.Second
)

type pullSessionConfig struct {
	id, url, transport string
	// prevTracks are the tracks of the last connection, kept when the
	// camera comes back unchanged.
	prevTracks []*pipeline.Track
}

// pullHooks receive what one session produces. tracks and frame are called
// from the packet path, one call at a time.
type pullHooks struct {
	tracks    func([]*pipeline.Track)
	frame     func(*pipeline.Frame)
	transport func(string)
	lost      func(uint64)
	// senderReport, when set, gets each RTCP sender report with its
	// arrival time (the probe and the live source compare the camera's
	// clock with ours). Called from the packet path: keep it cheap.
	senderReport func(sr *rtcp.SenderReport, arrival time.Time)
}

// runPullSession connects once, reads until the camera is lost or ctx ends,
// and returns why it ended. Every goroutine it starts has stopped when it
// returns.
func runPullSession(ctx context.Context, sc pullSessionConfig, log *slog.Logger, h pullHooks) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u, err := base.ParseURL(sc.url)
	if err != nil {
		return err
	}

	var (
		mu          sync.Mutex // serialises packets of all medias
		lastPacket  atomic.Int64
		clientErrs  atomic.Uint64
		lastClient  atomic.Pointer[string]
		transport   *gortsplib.Transport
		initialMode = TransportUDP
		sniff       sniffer
	)
	switch sc.transport {
	case TransportTCP:
		v := gortsplib.TransportTCP
		transport, initialMode = &v, TransportTCP
	case TransportUDP:
		v := gortsplib.TransportUDP
		transport = &v
	}
	if u.Scheme == "rtsps" {
		initialMode = TransportTCP
	}
	h.transport(initialMode)

	c := &gortsplib.Client{
		Scheme:                u.Scheme,
		Host:                  u.Host,
		Transport:             transport,
		ReadTimeout:           requestTimeout,
		WriteTimeout:          requestTimeout,
		InitialUDPReadTimeout: udpFirstPacketTimeout,
		UserAgent:             "diemcau",
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: connectTimout}
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return sniff.wrap(conn), nil
		},
		OnTransportSwitch: func(error) {
			log.Info("no UDP packets, switching to TCP")
			h.transport(TransportTCP)
		},
		OnPacketsLost: h.lost,
		OnDecodeError: func(err error) {
			clientErrs.Add(1)
			msg := RedactError(err, sc.url)
			lastClient.Store(&msg)
		},
	}
	if err := c.Start2(); err != nil {
		return err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		// gortsplib's requests take no context: closing the client is how
		// a cancelled Run interrupts a DESCRIBE that hangs.
		defer wg.Done()
		select {
		case <-ctx.Done():
			c.Close()
		case <-stop:
		}
	}()
	defer func() {
		close(stop)
		c.Close()
		wg.Wait()
	}()
	ctxOr := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}

	desc, _, err := c.Describe(u)
	if err != nil {
		if g := sniff.garbage(); g != nil {
			// gortsplib skips bytes it does not understand; what the
			// server sent says more than the timeout or EOF that follows.
			return ctxOr(g)
		}
		return ctxOr(err)
	}
	dep, err := NewDepacketizer(sc.id, desc)
	if err != nil {
		return err
	}
	dep.KeepTracks(sc.prevTracks)
	if err := c.SetupAll(desc.BaseURL, dep.Medias()); err != nil {
		return ctxOr(err)
	}
	h.tracks(dep.Tracks())

	align := newTrackAligner(dep.Medias(), func(m *description.Media, by time.Duration) {
		log.Info("tracks lined up by the camera's sender reports", "media", string(m.Type), "moved_by", by.Round(100*time.Microsecond))
	})
	c.OnPacketRTCPAny(func(m *description.Media, pkt rtcp.Packet) {
		if sr, ok := pkt.(*rtcp.SenderReport); ok {
			now := time.Now()
			align.senderReport(m, sr, now)
			if h.senderReport != nil {
				h.senderReport(sr, now)
			}
		}
	})
	c.OnPacketRTPAny(func(m *description.Media, _ format.Format, pkt *rtp.Packet) {
		// Arrival time, not the camera's NTP: many cameras' clocks are off
		// by minutes, and the mixer places frames by arrival anyway.
		now := time.Now()
		lastPacket.Store(now.UnixNano())
		pts, ok := c.PacketPTS2(m, pkt)
		if !ok {
			return // before the first packet the timeline can start from
		}
		pts = align.align(m, pkt, pts)
		mu.Lock()
		defer mu.Unlock()
		frames := dep.HandlePacket(m, pkt, pts, now)
		if dep.TracksChanged() {
			h.tracks(dep.Tracks())
		}
		for _, f := range frames {
			h.frame(f)
		}
	})

	if _, err := c.Play(nil); err != nil {
		return ctxOr(err)
	}

	waitErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		waitErr <- c.Wait()
	}()

	started := time.Now()
	tick := time.NewTicker(watchdogTick)
	defer tick.Stop()
	var reported uint64
	lastSummary := started
	summarise := func() {
		n := dep.Errors() + clientErrs.Load()
		if n == reported {
			return
		}
		last := dep.LastError()
		if p := lastClient.Load(); last == "" && p != nil {
			last = *p
		}
		log.Warn("decode errors", "count", n-reported, "last", last)
		reported = n
	}
	defer summarise()
	for {
		select {
		case err := <-waitErr:
			return ctxOr(err)
		case now := <-tick.C:
			last := lastPacket.Load()
			switch {
			case last == 0 && now.Sub(started) > firstDataTimeout:
				return errNoData{after: firstDataTimeout}
			case last != 0 && now.Sub(time.Unix(0, last)) > noDataTimeout:
				return errNoData{after: noDataTimeout}
			}
			if now.Sub(lastSummary) >= decodeSummaryEvery {
				summarise()
				lastSummary = now
			}
		}
	}
}

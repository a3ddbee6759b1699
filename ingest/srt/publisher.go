package srt

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"diemcau/ingest"
	"diemcau/pipeline"
)

// tsStartTimeout: a caller whose data holds no MPEG-TS program (PAT, PMT,
// the first audio header) this long after connecting is sending something
// else, or garbage, and is dropped.
const tsStartTimeout = 5 * time.Second

// publisher is one encoder's SRT connection to a Source.
type publisher struct {
	src       *Source
	conn      gosrt.Conn
	remote    string
	encrypted bool
	done      chan struct{} // closed when serve has returned

	lastData atomic.Int64 // unix nanos of the last data read
	closeMsg atomic.Pointer[string]

	mu          sync.Mutex
	errors      uint64 // decode errors, and the last one
	lastErr     string
	errReported uint64
	dropped     []string
}

func newPublisher(src *Source, remote string, encrypted bool) *publisher {
	pub := &publisher{src: src, remote: remote, encrypted: encrypted, done: make(chan struct{})}
	pub.lastData.Store(time.Now().UnixNano())
	return pub
}

// close drops the encoder; reason is shown as the source's error.
func (pub *publisher) close(reason string) {
	pub.closeMsg.CompareAndSwap(nil, &reason)
	if c := pub.getConn(); c != nil {
		c.Close()
	}
}

// Silence is how long the encoder has sent no data, and how long it may.
func (pub *publisher) Silence(now time.Time) (idle, limit time.Duration) {
	return now.Sub(time.Unix(0, pub.lastData.Load())), publisherIdleTimeout
}

// Tick: an SRT encoder has no periodic work (SRT itself reorders).
func (pub *publisher) Tick(time.Time) {}

// Drop closes the connection and returns once serve has: the stream gets
// no frame of this encoder after it (the registry closes the stream once
// the source's Run returns), and the source's state is serve's last word
// before Run shows it stopped. Closing the connection ends its Read, so
// the wait is short.
func (pub *publisher) Drop(reason string) {
	pub.close(reason)
	<-pub.done
}

// getConn is the connection once accepted (nil before).
func (pub *publisher) getConn() gosrt.Conn {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	return pub.conn
}

// Read feeds the MPEG-TS reader and marks the encoder as alive.
func (pub *publisher) Read(b []byte) (int, error) {
	n, err := pub.conn.Read(b)
	if n > 0 {
		pub.lastData.Store(time.Now().UnixNano())
	}
	return n, err
}

// serve reads the encoder's stream until it ends. conn has been accepted
// for pub, which holds the source; nil when the accept failed.
func (pub *publisher) serve(conn gosrt.Conn) {
	defer close(pub.done)
	pub.mu.Lock()
	pub.conn = conn
	pub.mu.Unlock()
	s := pub.src
	if conn == nil {
		pub.finish("")
		return
	}
	if m := pub.closeMsg.Load(); m != nil {
		// Closed (source stopped) between the claim and now.
		pub.finish(*m)
		return
	}
	// Nothing but the ingest path reads a conn: Read has no deadline in
	// gosrt, so a caller that never sends a program is closed by timer.
	watchdog := time.AfterFunc(tsStartTimeout, func() {
		pub.close(fmt.Sprintf("no MPEG-TS program (PAT/PMT) from the encoder within %s: is it sending MPEG-TS?", tsStartTimeout))
	})
	dem, err := newDemuxer(pub, pub, pub.countError)
	watchdog.Stop()
	if err != nil {
		reason := pub.closeMsg.Load()
		switch {
		case reason != nil:
		case errors.Is(err, ErrUnsupported):
			msg := "encoder sends " + strings.TrimPrefix(err.Error(), ErrUnsupported.Error()+" (found: ")
			msg = strings.TrimSuffix(msg, ")") + ": set it to H.264 or H.265 video with AAC or Opus audio"
			reason = &msg
		case errors.Is(err, io.EOF):
			// Gone before its first program: nothing wrong with the source.
			s.log.Info("encoder left before sending a program", "remote", pub.remote)
			pub.finish("encoder disconnected")
			return
		default:
			msg := fmt.Sprintf("the encoder's data is not MPEG-TS (%v): set it to send MPEG-TS over SRT", err)
			reason = &msg
		}
		s.log.Warn("encoder refused", "remote", pub.remote, "reason", *reason)
		s.tracker.SetState(ingest.StateError, *reason)
		pub.finish("")
		return
	}
	pub.mu.Lock()
	pub.dropped = dem.dropped
	pub.mu.Unlock()
	s.log.Info("encoder connected", "remote", pub.remote, "encrypted", pub.encrypted, "tracks", len(dem.tracks))
	if len(dem.dropped) > 0 {
		// The picture (or the sound) still goes on; the technician should
		// change the encoder's setting.
		s.log.Warn("encoder tracks left out: diemcau takes H.264/H.265 with AAC or Opus", "remote", pub.remote, "left_out", strings.Join(dem.dropped, ", "))
	}
	err = dem.run()
	pub.FlushErrors()
	reason := pub.reason(err)
	s.log.Info("encoder gone", "remote", pub.remote, "reason", reason)
	pub.finish(reason)
}

// finish releases the source; reason "" leaves the state as it is.
func (pub *publisher) finish(reason string) {
	s := pub.src
	var stats *ingest.SRTStats
	if c := pub.getConn(); c != nil {
		stats = pub.stats()
		stats.Connected = false
		c.Close()
	}
	if stats != nil {
		s.last.Store(stats) // before the release: Status reads them after Held
	}
	running := s.slot.Release(pub)
	if reason != "" && running {
		s.tracker.SetState(ingest.StateOffline, reason)
	}
}

// reason is why the connection ended.
func (pub *publisher) reason(err error) string {
	if m := pub.closeMsg.Load(); m != nil {
		return *m
	}
	if err == nil || errors.Is(err, io.EOF) {
		return "encoder disconnected"
	}
	return "encoder disconnected: " + err.Error()
}

// setTracks publishes the encoder's tracks: its first keyframe is in.
func (pub *publisher) setTracks(tracks []*pipeline.Track) {
	s := pub.src
	s.feed.Stream().SetTracks(tracks)
	s.tracker.SetTracks(tracks)
	if s.tracker.State() == ingest.StateOnline {
		return // new parameter sets of the same encoder
	}
	reconnect := s.published.Swap(true)
	// The stream's PTS never go back when an encoder reconnects.
	s.feed.Reconnect()
	if reconnect {
		s.tracker.Reconnected()
	}
	s.tracker.SetState(ingest.StateOnline, "")
	s.log.Info("encoder publishing", "remote", pub.remote, "tracks", ingest.DescribeTracks(tracks))
}

func (pub *publisher) frame(f *pipeline.Frame) {
	pub.src.feed.Write(f)
	pub.src.tracker.Frame(f)
}

func (pub *publisher) countError(err error) {
	pub.mu.Lock()
	pub.errors++
	pub.lastErr = err.Error()
	pub.mu.Unlock()
}

// FlushErrors logs the decode errors since the last call, as one line.
func (pub *publisher) FlushErrors() {
	pub.mu.Lock()
	n := pub.errors - pub.errReported
	pub.errReported = pub.errors
	last := pub.lastErr
	pub.mu.Unlock()
	if n > 0 {
		pub.src.log.Warn("MPEG-TS from encoder could not be decoded", "count", n, "last", last)
	}
}

// stats are SRT's own figures for the connection.
func (pub *publisher) stats() *ingest.SRTStats {
	var st gosrt.Statistics
	pub.mu.Lock()
	conn, dropped := pub.conn, pub.dropped
	pub.mu.Unlock()
	conn.Stats(&st)
	return &ingest.SRTStats{
		Remote:               pub.remote,
		Connected:            true,
		Encrypted:            pub.encrypted,
		LatencyMS:            pub.src.latency.Milliseconds(),
		RTTMS:                round2(st.Instantaneous.MsRTT),
		RecvRateMbps:         round2(st.Instantaneous.MbpsRecvRate),
		LinkCapacityMbps:     round2(st.Instantaneous.MbpsLinkCapacity),
		PacketsReceived:      st.Accumulated.PktRecv,
		PacketsLost:          st.Accumulated.PktRecvLoss,
		PacketsRetransmitted: st.Accumulated.PktRecvRetrans,
		PacketsDropped:       st.Accumulated.PktRecvDrop,
		PacketsUndecrypted:   st.Accumulated.PktRecvUndecrypt,
		DroppedTracks:        dropped,
	}
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// Package whep sends diemcau's streams to browsers over WebRTC, per the IETF
// WHEP draft: the session composite (full mix or a point's mix-minus) and
// single feeds passed through, plus the participants' viewer page.
//
// The cost of a viewer is kept to what cannot be shared. Each stream has one
// broadcaster goroutine that packetises a frame once into the stream's ring;
// the stream's viewers are spread over one sender goroutine per core
// (shards), each writing the shared packets to its viewers, changing only
// SSRC and payload type. The ring also answers every viewer's NACKs and
// gives a new viewer the packets since the last keyframe. Writes to the one
// UDP port are batched into sendmmsg, one batch per sender, a viewer's
// packets of a frame coalesced into one UDP GSO send where the kernel can.
// What remains per viewer is pion's peer connection and one SRTP encryption
// per packet.
package whep

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"diemcau/pipeline"
)

// Target is what a viewer asks to watch: a session's composite (with a
// point's mix-minus when Point is set) or one source's feed.
type Target struct {
	Session string
	Point   string
	Source  string
}

func (t Target) String() string {
	switch {
	case t.Source != "":
		return "source " + t.Source
	case t.Point != "":
		return "session " + t.Session + " point " + t.Point
	}
	return "session " + t.Session
}

// Resolver finds the streams viewers ask for; the mixer and ingest provide
// them. Errors wrap ErrNotFound or ErrNotLive to choose the HTTP status.
type Resolver interface {
	// Source returns the passthrough stream of a source, or false.
	Source(id string) (*pipeline.Stream, bool)
	// Session returns the composite of a running session (video and the full
	// mix); point != "" asks for that point's return feed (mix-minus).
	Session(id, point string) (*pipeline.Stream, error)
}

// LowResolver is a Resolver whose sessions may have a low rendition: the
// same composite pictures encoded smaller (mixer.Low). A viewer of a
// session starts on the main rendition and may move to the low one and
// back (rendition.go).
type LowResolver interface {
	// SessionLow is the low rendition of a session's composite (point "")
	// or of a point's return feed, or nil when it has none.
	SessionLow(id, point string) *pipeline.Stream
}

// Authorizer says whether a request's credentials (an operator token, or an
// invite token of that session) may watch the target, and with what grant.
type Authorizer func(r *http.Request, t Target) (Grant, bool)

// Server is the WHEP endpoint and the viewers behind it.
type Server struct {
	cfg      Config
	log      *slog.Logger
	resolver Resolver
	auth     Authorizer
	ready    chan struct{}
	wg       sync.WaitGroup

	mu         sync.Mutex
	running    bool
	runCtx     context.Context
	net        *network
	cert       webrtc.Certificate
	viewers    map[string]*viewer
	streams    map[*pipeline.Stream]*broadcaster
	connecting int
	reordered  map[*pipeline.Track]bool
	gone       Stats // counters of broadcasters that have ended
	// revoked invites stay refused here even when a viewer's check raced
	// the revocation (see admit).
	revoked map[string]struct{}
	quota   quotas // per-invite and per-address counts (limits.go)
	// whip: the publishers of whip:// sources (whip.go), sharing the ICE
	// port, the caps and the revocation of viewers.
	whip        whipState
	whipRefused map[string]uint64
}

// New validates the config; the server opens its port in Run.
func New(cfg Config, log *slog.Logger, resolver Resolver, auth Authorizer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if resolver == nil {
		return nil, fmt.Errorf("whep: no stream resolver")
	}
	if auth == nil {
		return nil, fmt.Errorf("whep: no authorizer")
	}
	return &Server{
		cfg:       cfg.withDefaults(),
		log:       log.With("component", "whep"),
		resolver:  resolver,
		auth:      auth,
		ready:     make(chan struct{}),
		viewers:   map[string]*viewer{},
		streams:   map[*pipeline.Stream]*broadcaster{},
		reordered: map[*pipeline.Track]bool{},
		revoked:   map[string]struct{}{},
	}, nil
}

// Ready is closed once Run has opened the ICE port.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// UDPAddrs are the bound ICE sockets, once Ready.
func (s *Server) UDPAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.net == nil {
		return nil
	}
	return s.net.addrs
}

// Run opens the ICE port and serves until ctx ends; it returns once every
// viewer and broadcaster has stopped and the port is closed.
func (s *Server) Run(ctx context.Context) error {
	n, err := openNetwork(s.cfg, s.log)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		n.close()
		return fmt.Errorf("whep: DTLS key: %w", err)
	}
	// One certificate for every viewer: making one per connection would
	// cost a key generation per offer.
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		n.close()
		return fmt.Errorf("whep: DTLS certificate: %w", err)
	}
	s.mu.Lock()
	s.net, s.cert, s.runCtx, s.running = n, *cert, ctx, true
	s.mu.Unlock()
	close(s.ready)
	s.log.Info("webrtc listening", "udp", fmt.Sprint(n.addrs), "port", n.port, "ice_tcp", !s.cfg.DisableTCP, "public_ips", s.cfg.PublicIPs)

	<-ctx.Done()
	s.mu.Lock()
	s.running = false
	for _, v := range s.viewers {
		v.close("server stopping")
	}
	s.mu.Unlock()
	s.wg.Wait()
	n.close()
	return nil
}

// Stats are the server's counters, for metrics and benchmarks.
type Stats struct {
	Viewers, Connecting, Streams int
	Frames, Packets              uint64 // packetised once per stream
	Sends                        uint64 // packets written to viewers
	Retransmits, RetransmitMiss  uint64
	SendErrors, KeyframeRequests uint64
	// Dropped: packets not written to a viewer because its stream's
	// sender had fallen behind (a starved core, a stalled viewer) and
	// skipped ahead. Pending: packets published that a sender with viewers
	// has not written yet (benchmarks wait for 0).
	Dropped, Pending           uint64
	Senders                    int    // per stream (webrtc.senders)
	Datagrams, Syscalls        uint64 // batched UDP datagrams and the sendmmsg calls that sent them
	DirectWrites, SocketErrors uint64
}

// Stats returns the counters now.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.gone
	st.Viewers, st.Connecting, st.Streams = len(s.viewers), s.connecting, len(s.streams)
	st.Senders = s.cfg.Senders
	for _, b := range s.streams {
		addBroadcasterStats(&st, b)
		for _, sh := range b.shards {
			if len(*sh.snap.Load()) > 0 {
				st.Pending += sh.pending()
			}
		}
	}
	if s.net != nil {
		g := s.net.group
		st.Datagrams, st.Syscalls = g.packets.Load(), g.syscalls.Load()
		st.DirectWrites, st.SocketErrors = g.direct.Load(), g.sendError.Load()
	}
	return st
}

func addBroadcasterStats(st *Stats, b *broadcaster) {
	st.Frames += b.frames.Load()
	st.Packets += b.packets.Load()
	for _, sh := range b.shards {
		st.Sends += sh.sends.Load()
		st.Dropped += sh.dropped.Load()
	}
	st.Retransmits += b.rtx.Load()
	st.RetransmitMiss += b.rtxMiss.Load()
	st.SendErrors += b.sendErrors.Load()
	st.KeyframeRequests += b.keyRequests.Load()
}

// Viewers counts the viewers of a session's composite (all points), for the
// session status.
func (s *Server) Viewers(session string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.viewers {
		if v.target.Session == session {
			n++
		}
	}
	return n
}

// reservation holds a viewer's place (capacity, broadcaster, a slot in the
// server's WaitGroup) while its peer connection is made.
type reservation struct {
	bc     *broadcaster
	net    *network
	cert   webrtc.Certificate
	runCtx context.Context
	quota  quotaKey
}

func (s *Server) reserve(stream *pipeline.Stream, t Target, q quotaKey, lower ...*pipeline.Stream) (*reservation, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil, &httpError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the WebRTC server is not running", RetryAfter: 2}
	}
	if herr := s.checkCapsLocked(q); herr != nil {
		return nil, herr
	}
	b := s.streams[stream]
	if b == nil {
		b = newBroadcaster(stream, t.Session != "", s.cfg, s.log, s.net.group, lower...)
		b.onReorder = s.markReordered
		s.streams[stream] = b
		ctx := s.runCtx
		s.wg.Go(func() {
			b.run(ctx)
			s.broadcasterEnded(b)
		})
	}
	b.viewers++
	s.connecting++
	s.takeLocked(q)
	s.wg.Add(1)
	return &reservation{bc: b, net: s.net, cert: s.cert, runCtx: s.runCtx, quota: q}, nil
}

// release undoes a reservation whose viewer was not made.
func (s *Server) release(r *reservation) {
	s.mu.Lock()
	s.connecting--
	s.dropLocked(r.quota, false)
	s.leaveLocked(r.bc)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) leaveLocked(b *broadcaster) {
	b.viewers--
	if b.viewers == 0 {
		if s.streams[b.stream] == b {
			delete(s.streams, b.stream)
		}
		select {
		case <-b.stop:
		default:
			close(b.stop)
		}
	}
}

func (s *Server) broadcasterEnded(b *broadcaster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[b.stream] == b {
		delete(s.streams, b.stream)
	}
	addBroadcasterStats(&s.gone, b)
	var sends, dropped uint64
	for _, sh := range b.shards {
		sends += sh.sends.Load()
		dropped += sh.dropped.Load()
	}
	s.log.Debug("stream idle", "stream", b.stream.Name(), "frames", b.frames.Load(), "packets", b.packets.Load(),
		"sends", sends, "dropped", dropped, "retransmits", b.rtx.Load(), "retransmit_misses", b.rtxMiss.Load(), "send_errors", b.sendErrors.Load())
}

func (s *Server) markReordered(t *pipeline.Track) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reordered) > 256 {
		clear(s.reordered) // tracks of long-gone streams
	}
	s.reordered[t] = true
}

func (s *Server) isReordered(t *pipeline.Track) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reordered[t]
}

func (s *Server) viewerConnected(v *viewer) {
	s.mu.Lock()
	s.connecting--
	s.connectedLocked(v.quota)
	s.mu.Unlock()
	s.log.Info("viewer connected", "viewer", v.id, "target", v.target.String(), "grant", v.grant.Who, "after", time.Since(v.created).Round(time.Millisecond))
}

func (s *Server) removeViewer(v *viewer, reason string) {
	s.mu.Lock()
	delete(s.viewers, v.id)
	connected := v.connected.Load()
	if !connected {
		s.connecting--
	}
	s.dropLocked(v.quota, connected)
	s.leaveLocked(v.bc)
	s.mu.Unlock()
	v.unroute()
	v.bc.unassign(v.shard)
	var sent, rtx, lost, failed, notReady uint64
	var lastErr string
	for _, t := range v.tracks {
		if bd := t.lastBinding(); bd != nil {
			sent += bd.sent.Load()
			rtx += bd.rtx.Load()
			lost += uint64(bd.lost.Load())
			failed += bd.failed.Load()
			notReady += bd.notReady.Load()
			if e := bd.lastErr.Load(); e != nil {
				lastErr = *e
			}
		}
	}
	attrs := []any{"viewer", v.id, "target", v.target.String(), "reason", reason,
		"watched", time.Since(v.created).Round(time.Second), "packets", sent, "retransmitted", rtx, "lost_reported", lost}
	if failed > 0 || (sent == 0 && notReady > 0) {
		attrs = append(attrs, "send_errors", failed, "writes_before_srtp", notReady, "last_error", lastErr)
	}
	s.log.Info("viewer left", attrs...)
}

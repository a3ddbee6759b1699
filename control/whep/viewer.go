package whep

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"diemcau/pipeline"
)

// viewer is one WHEP resource: a peer connection that receives one stream.
type viewer struct {
	id      string
	target  Target
	grant   Grant
	quota   quotaKey // the caps it counts against (limits.go)
	srv     *Server
	bc      *broadcaster
	shard   *shard // the stream's sender this viewer's tracks are on
	pc      *webrtc.PeerConnection
	tracks  []*localTrack
	senders []*webrtc.RTPSender
	created time.Time

	state     atomic.Int32 // webrtc.PeerConnectionState
	stateWake chan struct{}
	closeReq  chan struct{}
	closeOnce sync.Once
	reason    atomic.Pointer[string]
	connected atomic.Bool
	routed    atomic.Pointer[netip.AddrPort] // the address its shard's lane sends to

	// With renditions: the controller that picks one (its video RTCP
	// reader's), and the path as the viewer reports it (ladder.go).
	ladder *ladderControl
	path   pathStats
}

func (v *viewer) close(reason string) {
	v.closeOnce.Do(func() {
		v.reason.Store(&reason)
		close(v.closeReq)
	})
}

func (v *viewer) onState(s webrtc.PeerConnectionState) {
	v.state.Store(int32(s))
	select {
	case v.stateWake <- struct{}{}:
	default:
	}
}

// run lives as long as the viewer: it arms the viewer's bindings once the
// connection is up, reads RTCP, and reaps the viewer when ICE fails, when
// it never connects, on DELETE, or when the server stops.
func (v *viewer) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i, s := range v.senders {
		t := v.tracks[i]
		wg.Go(func() { v.readRTCP(s, t) })
	}
	reason := v.wait(ctx)
	// Close unbinds the tracks from the broadcaster and ends the RTCP reads.
	_ = v.pc.Close()
	wg.Wait()
	v.srv.removeViewer(v, reason)
}

func (v *viewer) wait(ctx context.Context) string {
	timer := time.NewTimer(v.srv.cfg.ConnectTimeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return "server stopping"
		case <-v.closeReq:
			return *v.reason.Load()
		case <-timer.C:
			return "never connected (ICE or DTLS did not complete)"
		case <-v.stateWake:
			switch webrtc.PeerConnectionState(v.state.Load()) {
			case webrtc.PeerConnectionStateConnected:
				if !v.connected.Swap(true) {
					timer.Stop()
					v.srv.viewerConnected(v)
					v.route()
					for _, t := range v.tracks {
						if bd := t.binding(); bd != nil {
							bd.armed.Store(true)
						}
					}
					v.shard.poke()
				}
			case webrtc.PeerConnectionStateFailed:
				return "connection failed (the viewer's network went silent)"
			case webrtc.PeerConnectionStateClosed:
				return "connection closed"
			}
		}
	}
}

// route sends the viewer's datagrams through its shard's lane of the UDP
// batches. Only speed depends on it: an address not routed (ICE-TCP, or a
// path that changed) is batched in a lane by its hash.
func (v *viewer) route() {
	pair, err := v.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Remote == nil || pair.Remote.Protocol != webrtc.ICEProtocolUDP {
		return
	}
	ip, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return
	}
	a := netip.AddrPortFrom(ip, pair.Remote.Port)
	v.routed.Store(&a)
	v.bc.group.route(a, v.shard.lane)
}

// unroute undoes route when the viewer leaves.
func (v *viewer) unroute() {
	if a := v.routed.Load(); a != nil {
		v.bc.group.unroute(*a, v.shard.lane)
	}
}

// readRTCP reads one sender's RTCP: NACKs are answered from the stream's
// shared ring, PLI and FIR ask the stream for a keyframe, receiver reports
// give the loss the viewer sees.
func (v *viewer) readRTCP(s *webrtc.RTPSender, t *localTrack) {
	buf := make([]byte, 1500)
	for {
		n, _, err := s.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		bd := t.binding()
		if bd == nil {
			continue
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.TransportLayerNack:
				var seqs []uint16
				for _, pair := range p.Nacks {
					seqs = append(seqs, pair.PacketList()...)
				}
				v.bc.nack(bd, seqs)
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				v.bc.keyframe()
			case *rtcp.ReceiverReport:
				for _, r := range p.Reports {
					if r.SSRC == bd.ssrc {
						bd.lost.Store(r.TotalLost)
						if bd.kind == pipeline.Video {
							v.onReceiverReport(bd, r, time.Now())
						}
					}
				}
			case *rtcp.ReceiverEstimatedMaximumBitrate:
				v.path.rembBPS.Store(uint64(p.Bitrate))
			}
		}
	}
}

// localTrack is one viewer's track of one kind. Bind, called by pion once
// the offer and answer are agreed, attaches the viewer's sender to the
// viewer's shard of the stream's broadcaster: all viewers of a stream
// share its packets.
type localTrack struct {
	kind     pipeline.Kind
	mime     string
	bc       *broadcaster
	v        *viewer
	mu       sync.Mutex
	bound    *binding
	last     *binding // kept after Unbind for the viewer's closing summary
	streamID string
}

func (t *localTrack) binding() *binding {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bound
}

func (t *localTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if !strings.EqualFold(c.MimeType, t.mime) {
			continue
		}
		sh := t.v.shard
		bd := &binding{kind: t.kind, ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), w: ctx.WriteStream(), viewer: t.v, shard: sh}
		t.mu.Lock()
		t.bound, t.last = bd, bd
		t.mu.Unlock()
		sh.add(bd)
		// pion binds during SetLocalDescription, before the viewer can
		// connect; should that ever change, a late binding still starts.
		if t.v.connected.Load() {
			bd.armed.Store(true)
			sh.poke()
		}
		return c, nil
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (t *localTrack) lastBinding() *binding {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

func (t *localTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	bd := t.bound
	t.bound = nil
	t.mu.Unlock()
	if bd != nil {
		bd.shard.remove(bd)
	}
	return nil
}

func (t *localTrack) ID() string       { return t.kind.String() }
func (t *localTrack) RID() string      { return "" }
func (t *localTrack) StreamID() string { return t.streamID }

func (t *localTrack) Kind() webrtc.RTPCodecType {
	if t.kind == pipeline.Audio {
		return webrtc.RTPCodecTypeAudio
	}
	return webrtc.RTPCodecTypeVideo
}

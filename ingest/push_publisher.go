package ingest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"diemcau/pipeline"
)

// publisher is one encoder's RTSP session on a PushSource, from ANNOUNCE
// until the session closes.
type publisher struct {
	src    *PushSource
	ss     *gortsplib.ServerSession
	remote string
	dep    *Depacketizer

	recording  bool // set under src.mu
	lastPacket atomic.Int64
	closeMsg   atomic.Pointer[string]

	mu          sync.Mutex // orders frames: UDP medias arrive on several goroutines
	noPTS       uint64
	errReported uint64
}

// announce accepts an encoder's ANNOUNCE: credentials, codecs, one
// publisher at a time.
func (p *PushSource) announce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	remote := ctx.Conn.NetConn().RemoteAddr().String()
	if p.user != "" && !ctx.Conn.VerifyCredentials(ctx.Request, p.user, p.pass) {
		if len(ctx.Request.Header["Authorization"]) > 0 {
			// Credentials were sent and are wrong (a first request without
			// any is the normal start of Digest auth). The server counts
			// and summarises it; the state says so only while no encoder
			// publishes, so that someone guessing cannot mark a live
			// source as failed.
			p.slot.SetStateIfIdle(p.tracker, StateError, "encoder sent wrong credentials")
		}
		return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
	}
	dep, err := NewDepacketizer(p.id, ctx.Description)
	if err == nil {
		err = refuseUnsupported(ctx.Description, dep)
	}
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), fmt.Sprintf("ingest %q: ", p.id))
		p.log.Warn("publish refused", "remote", remote, "reason", msg)
		p.slot.SetStateIfIdle(p.tracker, StateError, "encoder offered "+msg)
		return refusal(base.StatusUnsupportedMediaType, "%s", msg), nil
	}

	p.slot.mu.Lock()
	defer p.slot.mu.Unlock()
	if !p.slot.running {
		return refusal(base.StatusServiceUnavailable, "source %q is not running", p.id), nil
	}
	if p.slot.pub != nil {
		// Counted and summarised by the server, not logged here.
		return refusal(statusConflict, "source %q already has a publisher", p.id), nil
	}
	pub := &publisher{src: p, ss: ctx.Session, remote: remote, dep: dep}
	pub.lastPacket.Store(time.Now().UnixNano())
	p.slot.pub = pub
	ctx.Session.SetUserData(p)
	return ok(), nil
}

// refuseUnsupported names the codecs of medias the depacketizer left out:
// an encoder sending them would be silently cut, so it is refused.
func refuseUnsupported(desc *description.Session, dep *Depacketizer) error {
	taken := make(map[*description.Media]bool)
	for _, m := range dep.Medias() {
		taken[m] = true
	}
	var bad []string
	for _, m := range desc.Medias {
		if m.IsBackChannel || taken[m] {
			continue
		}
		for _, f := range m.Formats {
			bad = append(bad, fmt.Sprintf("%s (%s)", formatName(f), m.Type))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w %s", ErrNoSupportedCodec, strings.Join(bad, ", "))
	}
	return nil
}

// record starts the flow of packets from the publisher into the stream.
func (p *PushSource) record(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	p.slot.mu.Lock()
	pub := p.slot.pub
	if pub == nil || pub.ss != ctx.Session {
		p.slot.mu.Unlock()
		return refusal(base.StatusBadRequest, "session is not the publisher of %q", p.id), nil
	}
	pub.recording = true
	reconnect := p.published
	// The stream's PTS never go back when an encoder reconnects.
	p.clock.reconnect()
	p.published = true
	p.slot.mu.Unlock()

	tracks := pub.dep.Tracks()
	pub.dep.TracksChanged() // these tracks are published here
	p.stream.SetTracks(tracks)
	p.tracker.SetTracks(tracks)
	transport := "unknown"
	if tr := ctx.Session.SetuppedTransport(); tr != nil {
		transport = strings.ToLower(tr.String())
	}
	p.tracker.SetTransport(transport)
	if reconnect {
		p.tracker.Reconnected()
	}
	p.tracker.SetState(StateOnline, "")
	p.log.Info("encoder publishing", "remote", pub.remote, "transport", transport, "tracks", describeTracks(tracks))

	ctx.Session.OnPacketRTPAny(func(medi *description.Media, _ format.Format, pkt *rtp.Packet) {
		pub.handlePacket(medi, pkt)
	})
	// The encoder's wall clock, as its sender reports tell it. RTCP does
	// not count as media for the idle timeout.
	ctx.Session.OnPacketRTCPAny(func(_ *description.Media, pkt rtcp.Packet) {
		if sr, ok := pkt.(*rtcp.SenderReport); ok {
			p.tracker.SenderReport(sr.NTPTime, time.Now())
		}
	})
	return ok(), nil
}

// sessionClosed ends the publisher whose session closed (TEARDOWN, closed
// connection, timeout, or dropped by us).
func (p *PushSource) sessionClosed(ss *gortsplib.ServerSession, err error) {
	p.slot.mu.Lock()
	pub := p.slot.pub
	if pub == nil || pub.ss != ss {
		p.slot.mu.Unlock()
		return
	}
	p.slot.pub = nil
	running := p.slot.running
	p.slot.mu.Unlock()

	pub.FlushErrors()
	reason := pub.closeReason(err)
	if !pub.recording {
		p.log.Info("encoder left before recording", "remote", pub.remote, "reason", reason)
		return
	}
	p.log.Info("encoder gone", "remote", pub.remote, "reason", reason)
	if running {
		p.tracker.SetState(StateOffline, reason)
	}
}

func (pub *publisher) Silence(now time.Time) (idle, limit time.Duration) {
	return now.Sub(time.Unix(0, pub.lastPacket.Load())), publisherIdleTimeout
}

func (pub *publisher) Tick(time.Time) {}

func (pub *publisher) Drop(reason string) { pub.close(reason) }

// close drops the publisher; reason is shown as the source's error.
func (pub *publisher) close(reason string) {
	pub.closeMsg.CompareAndSwap(nil, &reason)
	pub.ss.Close()
}

func (pub *publisher) closeReason(err error) string {
	if m := pub.closeMsg.Load(); m != nil {
		return *m
	}
	var torn liberrors.ErrServerSessionTornDown
	switch {
	case errors.As(err, &torn):
		return "encoder stopped publishing (TEARDOWN)"
	case err == nil:
		return "encoder disconnected"
	}
	return "encoder disconnected: " + err.Error()
}

// handlePacket turns one RTP packet into frames on the source's stream.
func (pub *publisher) handlePacket(medi *description.Media, pkt *rtp.Packet) {
	pub.lastPacket.Store(time.Now().UnixNano())
	pts, ok := pub.ss.PacketPTS2(medi, pkt)
	if !ok {
		pub.mu.Lock()
		pub.noPTS++
		pub.mu.Unlock()
		return
	}
	src := pub.src

	pub.mu.Lock()
	defer pub.mu.Unlock()
	// Wall time is the arrival time, as for pulled cameras: the archive
	// records the server's (NTP-kept) clock, not an encoder's, which may be
	// minutes off (its offset is in the source status instead).
	frames := pub.dep.HandlePacket(medi, pkt, pts, time.Time{})
	if pub.dep.TracksChanged() {
		tracks := pub.dep.Tracks()
		src.stream.SetTracks(tracks)
		src.tracker.SetTracks(tracks)
	}
	for _, f := range frames {
		src.clock.shift(f)
		src.stream.Write(f)
		src.tracker.Frame(f)
	}
}

func (pub *publisher) FlushErrors() {
	pub.mu.Lock()
	total := pub.dep.Errors()
	n := total - pub.errReported
	pub.errReported = total
	noPTS := pub.noPTS
	pub.noPTS = 0
	pub.mu.Unlock()
	if n > 0 {
		pub.src.log.Warn("packets from encoder could not be decoded", "count", n, "last", pub.dep.LastError())
	}
	if noPTS > 0 {
		pub.src.log.Warn("packets from encoder without usable timestamp", "count", noPTS)
	}
}

func describeTracks(tracks []*pipeline.Track) string {
	parts := make([]string, 0, len(tracks))
	for _, t := range tracks {
		switch t.Kind() {
		case pipeline.Video:
			parts = append(parts, fmt.Sprintf("%s %dx%d", t.Codec, t.Width, t.Height))
		default:
			parts = append(parts, fmt.Sprintf("%s %d Hz %d ch", t.Codec, t.SampleRate, t.Channels))
		}
	}
	return strings.Join(parts, ", ")
}

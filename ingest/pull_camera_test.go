package ingest

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"

	"diemcau/internal/proctest"
)

// cameraOpts shapes a test camera.
type cameraOpts struct {
	user, pass  string
	basicOnly   bool // offer Basic auth only (default: Basic and Digest)
	paramsInSDP bool // parameter sets only in the SDP, never in-band
	audio       bool // AAC beside the video
	pcmu        bool // G.711 µ-law beside the video
	tcpOnly     bool // refuse UDP, as cameras behind NAT effectively do
	// formats replaces the clip's media with these (an unsupported codec);
	// nothing is sent then.
	formats []format.Format
}

// testCamera is a small RTSP server that replays a clip in real time at
// rtsp://127.0.0.1:PORT/stream, over TCP and UDP. It can be stopped and
// started again on the same ports, and paused (connected but silent).
type testCamera struct {
	t    testing.TB
	clip *testClip
	opts cameraOpts

	rtspPort, rtpPort int
	paused            atomic.Bool

	mu     sync.Mutex
	server *gortsplib.Server
	stream *gortsplib.ServerStream
	stop   chan struct{}
	done   chan struct{}
}

func startTestCamera(t testing.TB, clip *testClip, opts cameraOpts) *testCamera {
	t.Helper()
	c := &testCamera{t: t, clip: clip, opts: opts, rtspPort: proctest.FreePort(t), rtpPort: freeUDPPair(t)}
	if err := c.start(); err != nil {
		t.Fatalf("start camera: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// URL is the camera's stream URL with the given credentials ("" for none).
func (c *testCamera) URL(user, pass string) string {
	cred := ""
	if user != "" {
		cred = user + ":" + pass + "@"
	}
	return fmt.Sprintf("rtsp://%s127.0.0.1:%d/stream", cred, c.rtspPort)
}

func (c *testCamera) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.server != nil {
		return nil
	}
	s := &gortsplib.Server{Handler: c, RTSPAddress: "127.0.0.1:" + strconv.Itoa(c.rtspPort)}
	if !c.opts.tcpOnly {
		s.UDPRTPAddress = "127.0.0.1:" + strconv.Itoa(c.rtpPort)
		s.UDPRTCPAddress = "127.0.0.1:" + strconv.Itoa(c.rtpPort+1)
	}
	if c.opts.basicOnly {
		s.AuthMethods = []auth.VerifyMethod{auth.VerifyMethodBasic}
	}
	if err := s.Start(); err != nil {
		return err
	}
	desc := c.description()
	st := &gortsplib.ServerStream{Server: s, Desc: desc}
	if err := st.Initialize(); err != nil {
		s.Close()
		return err
	}
	c.server, c.stream = s, st
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go c.send(st, c.stop, c.done)
	return nil
}

// Stop kills the camera: connections drop, nothing listens any more.
func (c *testCamera) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.server == nil {
		return
	}
	close(c.stop)
	<-c.done
	c.stream.Close()
	c.server.Close()
	c.server, c.stream = nil, nil
}

// Restart brings a stopped camera back on the same ports.
func (c *testCamera) Restart() {
	c.t.Helper()
	if err := c.start(); err != nil {
		c.t.Fatalf("restart camera: %v", err)
	}
}

// Pause keeps connections open but stops sending (a frozen encoder).
func (c *testCamera) Pause(p bool) { c.paused.Store(p) }

func (c *testCamera) description() *description.Session {
	if c.opts.formats != nil {
		var medias []*description.Media
		for _, f := range c.opts.formats {
			medias = append(medias, &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{f}})
		}
		return &description.Session{Medias: medias}
	}
	var vf format.Format
	_, vps, sps, pps := c.clip.withoutParams()
	if c.clip.hevc {
		vf = &format.H265{PayloadTyp: 96, VPS: vps, SPS: sps, PPS: pps}
	} else {
		vf = &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps}
	}
	medias := []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{vf}}}
	if c.opts.audio {
		medias = append(medias, &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{&format.MPEG4Audio{
			PayloadTyp: 97, Config: c.clip.aacConf, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
		}}})
	}
	if c.opts.pcmu {
		medias = append(medias, &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{&format.G711{
			PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1,
		}}})
	}
	return &description.Session{Medias: medias}
}

// send writes the clip in real time, looping, until stop closes.
func (c *testCamera) send(st *gortsplib.ServerStream, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	if c.opts.formats != nil {
		<-stop
		return
	}
	aus := c.clip.aus
	if c.opts.paramsInSDP {
		aus, _, _, _ = c.clip.withoutParams()
	}
	var venc interface {
		Encode([][]byte) ([]*rtp.Packet, error)
	}
	if c.clip.hevc {
		e := &rtph265.Encoder{PayloadType: 96}
		_ = e.Init()
		venc = e
	} else {
		e := &rtph264.Encoder{PayloadType: 96, PacketizationMode: 1}
		_ = e.Init()
		venc = e
	}
	aenc := &rtpmpeg4audio.Encoder{PayloadType: 97, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
	_ = aenc.Init()

	vmedia := st.Desc.Medias[0]
	start := time.Now()
	const rtpBase = 1_000_000 // a camera clock that does not start at zero
	vi, ai := 0, 0
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		el := time.Since(start)
		now90k := int64(el * 90000 / time.Second)
		for {
			loop, i := vi/len(aus), vi%len(aus)
			dts := c.clip.dts[i] + int64(loop)*c.clip.duration
			if dts > now90k {
				break
			}
			vi++
			if c.paused.Load() {
				continue
			}
			pkts, err := venc.Encode(aus[i])
			if err != nil {
				continue
			}
			ts := uint32(rtpBase + c.clip.pts[i] + int64(loop)*c.clip.duration)
			for _, p := range pkts {
				p.Timestamp = ts
				_ = st.WritePacketRTPWithNTP(vmedia, p, time.Now())
			}
		}
		if c.opts.pcmu {
			// 20 ms of µ-law silence per packet.
			for int64(ai)*160 <= int64(el*8000/time.Second) {
				pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(ai),
					Timestamp: uint32(rtpBase + int64(ai)*160), SSRC: 1234}, Payload: bytes.Repeat([]byte{0xFF}, 160)}
				ai++
				if !c.paused.Load() {
					_ = st.WritePacketRTPWithNTP(st.Desc.Medias[1], pkt, time.Now())
				}
			}
		}
		if !c.opts.audio {
			continue
		}
		n := len(c.clip.aac)
		nowSamples := int64(el * 48000 / time.Second)
		for int64(ai)*1024 <= nowSamples {
			i := ai % n
			ts := uint32(rtpBase + int64(ai)*1024)
			ai++
			if c.paused.Load() {
				continue
			}
			pkts, err := aenc.Encode([][]byte{c.clip.aac[i]})
			if err != nil {
				continue
			}
			for _, p := range pkts {
				p.Timestamp += ts
				_ = st.WritePacketRTPWithNTP(st.Desc.Medias[1], p, time.Now())
			}
		}
	}
}

func (c *testCamera) authorized(conn *gortsplib.ServerConn, req *base.Request) bool {
	if c.opts.user == "" {
		return true
	}
	return conn.VerifyCredentials(req, c.opts.user, c.opts.pass)
}

func (c *testCamera) currentStream() *gortsplib.ServerStream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stream
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (c *testCamera) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !c.authorized(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	if ctx.Path != "/stream" {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, c.currentStream(), nil
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (c *testCamera) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !c.authorized(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	return &base.Response{StatusCode: base.StatusOK}, c.currentStream(), nil
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (c *testCamera) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// freeUDPPair finds an even UDP port whose successor is free too, as RTP
// and RTCP need.
func freeUDPPair(t testing.TB) int {
	t.Helper()
	for range 100 {
		a, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 != 0 {
			a.Close()
			continue
		}
		b, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p+1))
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		return p
	}
	t.Fatal("no free UDP port pair")
	return 0
}

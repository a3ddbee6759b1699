package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// whepViewer is one viewer that counts whole video frames (RTP marker
// bits), from the first keyframe on: the reference the load generator's
// packet counts are read against, and the "new viewer" whose first-frame
// time a run reports.
type whepViewer struct {
	base, path, token string
	frameTicks        uint32 // 90 kHz ticks per frame at the expected rate
	pc                *webrtc.PeerConnection
	resource          string
	wg                sync.WaitGroup

	mu         sync.Mutex
	started    time.Time
	keyed      bool // saw the start of a keyframe
	firstFrame time.Duration
	frames     uint64 // whole frames from the first keyframe on
	packets    uint64 // video packets from the first keyframe on
	lost       uint64
	missing    uint64 // frames skipped, by RTP timestamp gaps
	lastTS     uint32
	recording  bool
	lastAt     time.Time
	intervals  []float64 // ms between whole frames, while recording
}

// dialWHEP posts an offer to base+path and returns once the answer is
// applied; frames are counted as they come.
func dialWHEP(ctx context.Context, base, path, token string, fps int) (*whepViewer, error) {
	api, err := whepAPI()
	if err != nil {
		return nil, err
	}
	v := &whepViewer{base: base, path: path, token: token, frameTicks: uint32(90000 / max(fps, 1)), started: time.Now()}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	v.pc = pc
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			v.close()
			return nil, err
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() != webrtc.RTPCodecTypeVideo {
			v.wg.Go(func() { drain(tr) })
			return
		}
		v.wg.Go(func() { v.readVideo(tr) })
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		v.close()
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		v.close()
		return nil, err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		v.close()
		return nil, ctx.Err()
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		v.close()
		return nil, fmt.Errorf("whep %s: %w", path, err)
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		v.close()
		return nil, fmt.Errorf("whep %s: %d %s", path, res.StatusCode, strings.TrimSpace(string(body)))
	}
	v.resource = res.Header.Get("Location")
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		v.close()
		return nil, fmt.Errorf("whep %s: answer: %w", path, err)
	}
	return v, nil
}

func drain(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := tr.Read(buf); err != nil {
			return
		}
	}
}

func (v *whepViewer) readVideo(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var last uint16
	started := false
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if n < 13 {
			continue
		}
		// The fixed RTP header; the payload starts after CSRCs and the
		// extension, which the relay and the composite both send.
		marker := buf[1]&0x80 != 0
		seq := uint16(buf[2])<<8 | uint16(buf[3])
		ts := uint32(buf[4])<<24 | uint32(buf[5])<<16 | uint32(buf[6])<<8 | uint32(buf[7])
		off := 12 + 4*int(buf[0]&0x0f)
		if buf[0]&0x10 != 0 && n >= off+4 {
			off += 4 + 4*(int(buf[off+2])<<8|int(buf[off+3]))
		}
		now := time.Now()
		v.mu.Lock()
		if started {
			if d := seq - last; d > 1 && d < 0x8000 {
				v.lost += uint64(d - 1)
			}
		}
		if !started || int16(seq-last) > 0 {
			last, started = seq, true
		}
		if !v.keyed && off < n && h264StartsKeyframe(buf[off:n]) {
			v.keyed = true
		}
		if v.keyed {
			v.packets++
			if marker {
				if v.frames == 0 {
					v.firstFrame = now.Sub(v.started)
				} else {
					v.missing += missingFrames(v.lastTS, ts, v.frameTicks)
				}
				if v.recording && !v.lastAt.IsZero() {
					v.intervals = append(v.intervals, float64(now.Sub(v.lastAt).Microseconds())/1000)
				}
				v.lastTS, v.lastAt = ts, now
				v.frames++
			}
		}
		v.mu.Unlock()
	}
}

// h264StartsKeyframe says whether an RTP H.264 payload (RFC 6184) carries
// the start of an IDR picture, or the SPS that comes before one.
func h264StartsKeyframe(p []byte) bool {
	switch t := p[0] & 0x1f; t {
	case 5, 7:
		return true
	case 24: // STAP-A: 16-bit sizes, then NAL units
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			if size == 0 {
				return false
			}
			if nt := p[i+2] & 0x1f; nt == 5 || nt == 7 {
				return true
			}
			i += 2 + size
		}
	case 28: // FU-A: start bit and the NAL type in the FU header
		return len(p) > 1 && p[1]&0x80 != 0 && p[1]&0x1f == 5
	}
	return false
}

// viewerCounts is a snapshot of a viewer's counters.
type viewerCounts struct {
	frames, packets, lost, missing uint64
	at                             time.Time
}

func (v *whepViewer) counts() viewerCounts {
	v.mu.Lock()
	defer v.mu.Unlock()
	return viewerCounts{frames: v.frames, packets: v.packets, lost: v.lost, missing: v.missing, at: time.Now()}
}

// record starts or stops keeping frame intervals.
func (v *whepViewer) record(on bool) {
	v.mu.Lock()
	v.recording = on
	v.mu.Unlock()
}

func (v *whepViewer) intervalPercentiles() Percentiles {
	v.mu.Lock()
	defer v.mu.Unlock()
	return percentiles(v.intervals)
}

// waitFirstFrame waits for the first whole frame and returns the time from
// the start of the offer to it.
func (v *whepViewer) waitFirstFrame(ctx context.Context, d time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(d)
	for {
		v.mu.Lock()
		n, ff := v.frames, v.firstFrame
		v.mu.Unlock()
		if n > 0 {
			return ff, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("whep %s: no whole frame within %s", v.path, d)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// close ends the viewer (DELETE of its resource) and waits for its readers.
func (v *whepViewer) close() {
	if v.resource != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, v.base+v.resource, nil)
		req.Header.Set("Authorization", "Bearer "+v.token)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
		cancel()
	}
	if v.pc != nil {
		_ = v.pc.Close()
	}
	v.wg.Wait()
}

// whepAPI is a lean loopback receiver, as the relay load generator's:
// no interceptors, UDP over lo only, large receive buffers.
func whepAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	std, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{LoggerFactory: quietPion{}}
	se.SetNet(bigBufferNet{std})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(&interceptor.Registry{})), nil
}

type bigBufferNet struct{ *stdnet.Net }

func (n bigBufferNet) ListenUDP(network string, addr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, addr)
	if err == nil {
		_ = c.SetReadBuffer(1 << 20)
	}
	return c, err
}

type quietPion struct{}

func (quietPion) NewLogger(string) logging.LeveledLogger {
	return logging.NewDefaultLeveledLoggerForScope("", logging.LogLevelDisabled, io.Discard)
}

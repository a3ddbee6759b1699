package whep

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// whipClient is a pion publisher speaking WHIP, as a browser would: H.264
// and Opus from the test clip in real time, NACKs answered (pion's
// responder), keyframe requests counted.
type whipClient struct {
	pc       *webrtc.PeerConnection
	resource string
	base     string
	plis     atomic.Uint64
	wantKey  atomic.Bool // a PLI came: the next picture is the clip's keyframe
	nacks    atomic.Uint64
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

type whipOpts struct {
	noAudio bool
	relay   *lossyRelay // nil: straight to the server
}

// publish offers to base+path with token, and once answered sends the
// clip until close.
func publish(ctx context.Context, clip *testClip, base, path, token string, o whipOpts) (*whipClient, postResult, error) {
	api, err := clientAPI(clientOpts{interceptors: true})
	if err != nil {
		return nil, postResult{}, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, postResult{}, err
	}
	c := &whipClient{pc: pc, base: base}
	vt, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}, "video", "whip")
	if err != nil {
		pc.Close()
		return nil, postResult{}, err
	}
	at, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "whip")
	if err != nil {
		pc.Close()
		return nil, postResult{}, err
	}
	tracks := []*webrtc.TrackLocalStaticSample{vt}
	if !o.noAudio {
		tracks = append(tracks, at)
	}
	for _, t := range tracks {
		tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			pc.Close()
			return nil, postResult{}, err
		}
		sender := tr.Sender()
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				pkts, _, err := sender.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					switch p.(type) {
					case *rtcp.PictureLossIndication:
						c.plis.Add(1)
						c.wantKey.Store(true)
					case *rtcp.TransportLayerNack:
						c.nacks.Add(1)
					}
				}
			}
		}()
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		c.stop()
		return nil, postResult{}, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		c.stop()
		return nil, postResult{}, err
	}
	<-gathered
	res, err := post(ctx, base+path, token, "application/sdp", pc.LocalDescription().SDP)
	if err != nil || res.status != http.StatusCreated {
		c.stop()
		if err == nil {
			err = fmt.Errorf("POST %s: %d %s", path, res.status, res.body)
		}
		return nil, res, err
	}
	c.resource = res.header.Get("Location")
	answer := res.body
	if o.relay != nil {
		answer = o.relay.rewrite(answer)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		c.stop()
		return nil, res, fmt.Errorf("set answer: %w", err)
	}
	sendCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.send(sendCtx, clip, vt, at, o.noAudio)
	}()
	return c, res, nil
}

// send writes the clip in real time: every keyframe with its parameter
// sets in front, as browsers send them.
func (c *whipClient) send(ctx context.Context, clip *testClip, vt, at *webrtc.TrackLocalStaticSample, noAudio bool) {
	frame := time.Second / time.Duration(clip.fps)
	audioStep := 20 * time.Millisecond
	start := time.Now()
	var vi, ai, ci int
	for {
		vpts, apts := time.Duration(vi)*frame, time.Duration(ai)*audioStep
		if noAudio {
			apts = vpts + time.Hour
		}
		next := min(vpts, apts)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(next))):
		}
		if vpts <= apts {
			if c.wantKey.Swap(false) {
				ci = 0 // a browser answers a PLI with a keyframe at once
			}
			i := ci % len(clip.aus)
			ci++
			var annexB []byte
			nalus := clip.aus[i]
			if clip.keys[i] {
				nalus = append([][]byte{clip.sps, clip.pps}, nalus...)
			}
			for _, n := range nalus {
				annexB = append(annexB, 0, 0, 0, 1)
				annexB = append(annexB, n...)
			}
			_ = vt.WriteSample(media.Sample{Data: annexB, Duration: frame})
			vi++
		} else {
			_ = at.WriteSample(media.Sample{Data: clip.opus[ai%len(clip.opus)], Duration: audioStep})
			ai++
		}
	}
}

func (c *whipClient) stop() {
	if c.cancel != nil {
		c.cancel()
	}
	_ = c.pc.Close()
	c.wg.Wait()
}

// unpublish ends the publisher the polite way: DELETE, then close.
func (c *whipClient) unpublish(ctx context.Context) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, c.base+c.resource, nil)
	res, err := http.DefaultClient.Do(req)
	c.stop()
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// lossyRelay sits between a publisher and the server's ICE port: it
// drops a share of the packets each way and delays each by a random time
// up to jitter, which reorders them, as a poor mobile link does.
type lossyRelay struct {
	conn   *net.UDPConn
	server *net.UDPAddr
	loss   float64
	jitter time.Duration

	mu      sync.Mutex
	client  *net.UDPAddr
	dropped atomic.Uint64
	passed  atomic.Uint64
	wg      sync.WaitGroup
	rng     *rand.Rand
}

func newLossyRelay(server *net.UDPAddr, loss float64, jitter time.Duration) (*lossyRelay, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	r := &lossyRelay{conn: conn, server: server, loss: loss, jitter: jitter, rng: rand.New(rand.NewPCG(1, 2))}
	r.wg.Add(1)
	go r.run()
	return r, nil
}

func (r *lossyRelay) run() {
	defer r.wg.Done()
	buf := make([]byte, 1600)
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		pkt := append([]byte(nil), buf[:n]...)
		r.mu.Lock()
		to := r.server
		if from.Port == r.server.Port && from.IP.Equal(r.server.IP) {
			to = r.client
		} else {
			r.client = from
		}
		drop := r.rng.Float64() < r.loss
		delay := time.Duration(r.rng.Int64N(int64(r.jitter) + 1))
		r.mu.Unlock()
		// Only RTP and RTCP (first byte 128-191) are lost: the test is
		// about media over a poor link, not about ICE or DTLS giving up.
		if to == nil || (drop && pkt[0] >= 128 && pkt[0] <= 191) {
			r.dropped.Add(1)
			continue
		}
		r.passed.Add(1)
		r.wg.Add(1)
		time.AfterFunc(delay, func() {
			defer r.wg.Done()
			_, _ = r.conn.WriteToUDP(pkt, to)
		})
	}
}

var candidatePort = regexp.MustCompile(`(a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 )(\d+)( typ host)`)

// rewrite points the answer's UDP candidate at the relay and drops its TCP
// ones, so every media packet crosses the relay.
func (r *lossyRelay) rewrite(answer string) string {
	port := strconv.Itoa(r.conn.LocalAddr().(*net.UDPAddr).Port)
	answer = candidatePort.ReplaceAllString(answer, "${1}"+port+"${3}")
	return regexp.MustCompile(`a=candidate:\S+ 1 tcp [^\r\n]*\r\n`).ReplaceAllString(answer, "")
}

func (r *lossyRelay) close() {
	_ = r.conn.Close()
	r.wg.Wait()
}

package whepclient

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

const (
	// offerTimeout bounds one POST of an offer.
	offerTimeout = 30 * time.Second
	// busyRetries, busyWait: the server answers 429 while too many viewers
	// are connecting at once; a viewer tries again for about 10 s.
	busyRetries = 50
	busyWait    = 200 * time.Millisecond
)

// Viewer is one WHEP receiver of video and audio.
type Viewer struct {
	base, path, token string
	pc                *webrtc.PeerConnection
	resource          string
	connected         chan struct{}

	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool // no more reads start
}

// Dial posts a recvonly offer for video and audio to base+path and returns
// once the answer is applied. read runs for each track the server sends,
// in a goroutine of the viewer's, until the track ends; Close waits for it.
func Dial(ctx context.Context, api *webrtc.API, base, path, token string, read func(*webrtc.TrackRemote)) (*Viewer, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	v := &Viewer{base: base, path: path, token: token, pc: pc, connected: make(chan struct{})}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			v.Close()
			return nil, err
		}
	}
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(v.connected) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.mu.Lock()
		defer v.mu.Unlock()
		if !v.closed {
			v.wg.Go(func() { read(tr) })
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		v.Close()
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		v.Close()
		return nil, err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		v.Close()
		return nil, ctx.Err()
	}
	answer, err := v.post(ctx, pc.LocalDescription().SDP)
	if err != nil {
		v.Close()
		return nil, fmt.Errorf("whep %s: %w", path, err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		v.Close()
		return nil, fmt.Errorf("whep %s: answer: %w", path, err)
	}
	return v, nil
}

// post sends the offer and returns the answer, keeping the resource.
func (v *Viewer) post(ctx context.Context, offer string) (string, error) {
	client := &http.Client{Timeout: offerTimeout}
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, v.base+v.path, strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Authorization", "Bearer "+v.token)
		res, err := client.Do(req)
		if err != nil {
			return "", err
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		switch {
		case res.StatusCode == http.StatusCreated:
			v.resource = res.Header.Get("Location")
			return string(body), nil
		case res.StatusCode == http.StatusTooManyRequests && attempt < busyRetries:
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(busyWait):
			}
		default:
			return "", fmt.Errorf("%d %s", res.StatusCode, strings.TrimSpace(string(body)))
		}
	}
}

// Connected is closed once the peer connection is up.
func (v *Viewer) Connected() <-chan struct{} { return v.connected }

// Close ends the viewer (DELETE of its resource, then the peer connection)
// and waits for its reads.
func (v *Viewer) Close() {
	if v.resource != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, v.base+v.resource, nil)
		req.Header.Set("Authorization", "Bearer "+v.token)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
		cancel()
	}
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
	_ = v.pc.Close()
	v.wg.Wait()
}

// EachPacket reads tr until it ends and hands each RTP packet to fn. The
// buffer is reused: fn must not keep it.
func EachPacket(tr *webrtc.TrackRemote, fn func(pkt []byte)) {
	buf := make([]byte, 1500)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		fn(buf[:n])
	}
}

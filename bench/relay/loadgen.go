package relay

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// The load generator is the viewers' side of the relay scenario. It runs
// in a process of its own so the server's CPU can be measured apart from
// theirs; parent and child talk in lines over the child's stdin and stdout:
//
//	child → {"event":"ready",...}     every viewer is connected
//	parent → start                    the measured window begins
//	parent → stop                     it ends
//	child → {"event":"result",...}    what the viewers received in it
//	parent closes stdin               the viewers leave (DELETE) and the child exits

// loadGenArgs are the child's flags.
type loadGenArgs struct {
	base     string
	token    string
	paths    []string
	viewers  int
	parallel int
	tracks   int
}

func parseLoadGenArgs(args []string) (loadGenArgs, error) {
	var a loadGenArgs
	fs := flag.NewFlagSet("relay-viewers", flag.ContinueOnError)
	fs.StringVar(&a.base, "url", "", "base URL of the WHEP server")
	fs.StringVar(&a.token, "token", "", "bearer token")
	paths := fs.String("paths", "", "comma-separated WHEP paths; viewers are spread over them")
	fs.IntVar(&a.viewers, "viewers", 1, "number of viewers")
	fs.IntVar(&a.parallel, "parallel", 16, "offers in flight at once")
	fs.IntVar(&a.tracks, "tracks", 2, "tracks each viewer must start before it counts as ready")
	if err := fs.Parse(args); err != nil {
		return a, err
	}
	a.paths = strings.Split(*paths, ",")
	if a.base == "" || *paths == "" || a.viewers < 1 {
		return a, errors.New("relay-viewers: -url, -paths and -viewers are required")
	}
	return a, nil
}

// LoadGenMain runs the viewers' process of the relay scenario (`diemcau
// bench relay-viewers …`, or the bench test binary re-executed).
func LoadGenMain(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	a, err := parseLoadGenArgs(args)
	if err != nil {
		return err
	}
	return runLoadGen(ctx, a, stdin, stdout)
}

type loadEvent struct {
	Event      string  `json:"event"`
	Connected  int     `json:"connected"`
	Failed     int     `json:"failed,omitempty"`
	Error      string  `json:"error,omitempty"`
	Packets    uint64  `json:"packets"`
	Audio      uint64  `json:"audio_packets"`
	Bytes      uint64  `json:"bytes"`
	Lost       uint64  `json:"lost"`
	Starved    int     `json:"starved"`   // viewers that received nothing in the window
	NoTracks   int     `json:"no_tracks"` // viewers whose tracks never started
	CPUSeconds float64 `json:"cpu_seconds"`
	WallSecond float64 `json:"wall_seconds"`
}

// viewer counts what one receiver got, by RTP sequence number.
type lgViewer struct {
	pc       *webrtc.PeerConnection
	resource string
	wg       sync.WaitGroup
	mu       sync.Mutex
	closed   bool
	packets  atomic.Uint64
	tracks   atomic.Int32
	audio    atomic.Uint64
	bytes    atomic.Uint64
	lost     atomic.Uint64
}

func runLoadGen(ctx context.Context, a loadGenArgs, stdin io.Reader, stdout io.Writer) error {
	api, err := loadGenAPI()
	if err != nil {
		return err
	}
	viewers := make([]*lgViewer, a.viewers)
	var failed atomic.Int32
	var firstErr atomic.Pointer[string]
	sem := make(chan struct{}, a.parallel)
	var wg sync.WaitGroup
	for i := range viewers {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			v, err := dialViewer(ctx, api, a.base+a.paths[i%len(a.paths)], a.token, a.tracks)
			if err != nil {
				failed.Add(1)
				msg := err.Error()
				firstErr.CompareAndSwap(nil, &msg)
				return
			}
			viewers[i] = v
		})
	}
	wg.Wait()
	defer func() {
		for _, v := range viewers {
			if v != nil {
				v.close(a.base, a.token)
			}
		}
	}()
	ready := loadEvent{Event: "ready", Connected: a.viewers - int(failed.Load()), Failed: int(failed.Load())}
	if e := firstErr.Load(); e != nil {
		ready.Error = *e
	}
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(ready); err != nil {
		return err
	}
	sc := bufio.NewScanner(stdin)
	var startCPU float64
	var startWall time.Time
	startPackets := make([]uint64, len(viewers))
	var startBytes, startLost, startAudio uint64
	for sc.Scan() {
		switch sc.Text() {
		case "start":
			startCPU, startWall = processCPU(), time.Now()
			startBytes, startLost, startAudio = 0, 0, 0
			for i, v := range viewers {
				if v != nil {
					startPackets[i] = v.packets.Load()
					startBytes += v.bytes.Load()
					startLost += v.lost.Load()
					startAudio += v.audio.Load()
				}
			}
		case "stop":
			res := loadEvent{Event: "result", Connected: ready.Connected, CPUSeconds: processCPU() - startCPU, WallSecond: time.Since(startWall).Seconds()}
			var bytes, lost, audio uint64
			for i, v := range viewers {
				if v == nil {
					continue
				}
				n := v.packets.Load() - startPackets[i]
				if n == 0 {
					res.Starved++
				}
				if int(v.tracks.Load()) < a.tracks {
					res.NoTracks++
				}
				res.Packets += n
				bytes += v.bytes.Load()
				lost += v.lost.Load()
				audio += v.audio.Load()
			}
			res.Bytes, res.Lost, res.Audio = bytes-startBytes, lost-startLost, audio-startAudio
			if err := enc.Encode(res); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

// loadGenAPI is a lean receiver: no interceptors, loopback only, and
// sockets with large receive buffers, so a load generator that is briefly
// descheduled on a busy machine does not drop what the server sent.
func loadGenAPI() (*webrtc.API, error) {
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

// bigBufferNet gives every UDP socket pion opens a 1 MiB receive buffer.
type bigBufferNet struct{ *stdnet.Net }

func (n bigBufferNet) ListenUDP(network string, addr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, addr)
	if err == nil {
		_ = c.SetReadBuffer(1 << 20)
	}
	return c, err
}

func dialViewer(ctx context.Context, api *webrtc.API, url, token string, tracks int) (*lgViewer, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	v := &lgViewer{pc: pc}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			pc.Close()
			return nil, err
		}
	}
	connected := make(chan struct{})
	allTracks := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.closed {
			return
		}
		if int(v.tracks.Add(1)) == tracks {
			close(allTracks)
		}
		v.wg.Go(func() { v.read(tr) })
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		pc.Close()
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		pc.Close()
		return nil, err
	}
	<-gathered
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(pc.LocalDescription().SDP))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			v.stop()
			return nil, err
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests && attempt < 50 {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if res.StatusCode != http.StatusCreated {
			v.stop()
			return nil, fmt.Errorf("POST %s: %d %s", url, res.StatusCode, body)
		}
		v.resource = res.Header.Get("Location")
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
			v.stop()
			return nil, err
		}
		break
	}
	// Ready means media flows: connected, and every track has started.
	timeout := time.After(time.Minute)
	for i, ch := range []chan struct{}{connected, allTracks} {
		select {
		case <-ch:
		case <-timeout:
			v.stop()
			if i == 0 {
				return nil, errors.New("not connected a minute after the answer")
			}
			return nil, fmt.Errorf("connected, but %d of %d tracks started a minute after the answer", v.tracks.Load(), tracks)
		case <-ctx.Done():
			v.stop()
			return nil, ctx.Err()
		}
	}
	return v, nil
}

// read counts packets and sequence gaps without parsing more than the
// header, so the load generator stays cheap.
func (v *lgViewer) read(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var last uint16
	started := false
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		seq := uint16(buf[2])<<8 | uint16(buf[3])
		if started {
			if d := seq - last; d > 1 && d < 0x8000 {
				v.lost.Add(uint64(d - 1))
			}
			if int16(seq-last) > 0 {
				last = seq
			}
		} else {
			last, started = seq, true
		}
		v.packets.Add(1)
		v.bytes.Add(uint64(n))
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			v.audio.Add(1)
		}
	}
}

func (v *lgViewer) stop() {
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
	_ = v.pc.Close()
	v.wg.Wait()
}

func (v *lgViewer) close(base, token string) {
	if v.resource != "" {
		req, _ := http.NewRequest(http.MethodDelete, base+v.resource, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}
	v.stop()
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

type quietPion struct{}

func (quietPion) NewLogger(string) logging.LeveledLogger {
	return logging.NewDefaultLeveledLoggerForScope("", logging.LogLevelDisabled, io.Discard)
}

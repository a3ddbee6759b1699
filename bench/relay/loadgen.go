package relay

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/webrtc/v4"

	"diemcau/bench/whepclient"
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

// lgViewer counts what one receiver got, by RTP sequence number.
type lgViewer struct {
	conn      *whepclient.Viewer
	want      int           // tracks that make it ready
	allTracks chan struct{} // closed when want tracks have started
	packets   atomic.Uint64
	tracks    atomic.Int32
	audio     atomic.Uint64
	bytes     atomic.Uint64
	lost      atomic.Uint64
}

func runLoadGen(ctx context.Context, a loadGenArgs, stdin io.Reader, stdout io.Writer) error {
	api, err := whepclient.NewAPI()
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
			v, err := dialViewer(ctx, api, a.base, a.paths[i%len(a.paths)], a.token, a.tracks)
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
				v.conn.Close()
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

func dialViewer(ctx context.Context, api *webrtc.API, base, path, token string, tracks int) (*lgViewer, error) {
	v := &lgViewer{want: tracks, allTracks: make(chan struct{})}
	conn, err := whepclient.Dial(ctx, api, base, path, token, v.read)
	if err != nil {
		return nil, err
	}
	v.conn = conn
	// Ready means media flows: connected, and every track has started.
	timeout := time.After(time.Minute)
	for i, ch := range []<-chan struct{}{conn.Connected(), v.allTracks} {
		select {
		case <-ch:
		case <-timeout:
			conn.Close()
			if i == 0 {
				return nil, errors.New("not connected a minute after the answer")
			}
			return nil, fmt.Errorf("connected, but %d of %d tracks started a minute after the answer", v.tracks.Load(), tracks)
		case <-ctx.Done():
			conn.Close()
			return nil, ctx.Err()
		}
	}
	return v, nil
}

// read counts packets and sequence gaps without parsing more than the
// header, so the load generator stays cheap.
func (v *lgViewer) read(tr *webrtc.TrackRemote) {
	if int(v.tracks.Add(1)) == v.want {
		close(v.allTracks)
	}
	audio := tr.Kind() == webrtc.RTPCodecTypeAudio
	var gaps whepclient.SeqGaps
	whepclient.EachPacket(tr, func(pkt []byte) {
		if len(pkt) < 12 {
			return
		}
		v.lost.Add(gaps.Next(uint16(pkt[2])<<8 | uint16(pkt[3])))
		v.packets.Add(1)
		v.bytes.Add(uint64(len(pkt)))
		if audio {
			v.audio.Add(1)
		}
	})
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

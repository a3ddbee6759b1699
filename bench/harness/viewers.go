package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"diemcau/bench/relay"
)

// loadGen is bench/relay's WHEP load generator run inside this process:
// the server is a process of its own, so its CPU is measured apart from
// the viewers', which the bench process reports as its own.
type loadGen struct {
	in     io.WriteCloser
	out    *bufio.Reader
	cancel context.CancelFunc
	done   chan struct{} // closed when LoadGenMain has returned
	err    error
	lines  chan loadLine
}

// loadEvent mirrors the load generator's line protocol (bench/relay).
type loadEvent struct {
	Event      string  `json:"event"`
	Connected  int     `json:"connected"`
	Failed     int     `json:"failed"`
	Error      string  `json:"error"`
	Packets    uint64  `json:"packets"`
	Audio      uint64  `json:"audio_packets"`
	Bytes      uint64  `json:"bytes"`
	Lost       uint64  `json:"lost"`
	Starved    int     `json:"starved"`
	NoTracks   int     `json:"no_tracks"`
	CPUSeconds float64 `json:"cpu_seconds"`
	WallSecond float64 `json:"wall_seconds"`
}

type loadLine struct {
	line []byte
	err  error
}

// startLoadGen connects viewers spread over paths (viewer i watches
// paths[i % len(paths)]) and returns once all have media or failed.
func startLoadGen(ctx context.Context, base, token string, paths []string, viewers int) (*loadGen, loadEvent, error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	// Its own context: the viewers stay until close, which closes stdin
	// and cancels any offer still in flight.
	lgCtx, cancel := context.WithCancel(context.Background())
	lg := &loadGen{in: inW, out: bufio.NewReader(outR), cancel: cancel, done: make(chan struct{}), lines: make(chan loadLine)}
	args := []string{"-url", base, "-token", token, "-paths", strings.Join(paths, ","), "-viewers", strconv.Itoa(viewers)}
	go func() {
		lg.err = relay.LoadGenMain(lgCtx, args, inR, outW)
		outW.CloseWithError(io.EOF)
		inR.Close()
		close(lg.done)
	}()
	go func() {
		for {
			l, err := lg.out.ReadBytes('\n')
			lg.lines <- loadLine{l, err}
			if err != nil {
				close(lg.lines)
				return
			}
		}
	}()
	ev, err := lg.event(ctx, 15*time.Minute)
	if err != nil {
		lg.close()
		return nil, ev, fmt.Errorf("viewers: %w", err)
	}
	return lg, ev, nil
}

func (lg *loadGen) event(ctx context.Context, d time.Duration) (loadEvent, error) {
	var ev loadEvent
	select {
	case l, ok := <-lg.lines:
		if !ok || l.err != nil {
			<-lg.done
			if lg.err != nil {
				return ev, lg.err
			}
			return ev, errors.New("load generator ended")
		}
		return ev, json.Unmarshal(l.line, &ev)
	case <-ctx.Done():
		return ev, ctx.Err()
	case <-time.After(d):
		return ev, errors.New("no answer from the load generator")
	}
}

// begin opens the measured window; end closes it and returns what the
// viewers received in it.
func (lg *loadGen) begin() error {
	_, err := io.WriteString(lg.in, "start\n")
	return err
}

func (lg *loadGen) end(ctx context.Context) (loadEvent, error) {
	if _, err := io.WriteString(lg.in, "stop\n"); err != nil {
		return loadEvent{}, err
	}
	return lg.event(ctx, time.Minute)
}

// close sends the viewers away (each DELETEs its resource) and waits.
func (lg *loadGen) close() {
	lg.in.Close()
	lg.cancel()
	for range lg.lines {
	}
	<-lg.done
}

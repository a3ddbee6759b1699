package srt

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lossyRelay forwards UDP between one caller and a server, dropping a
// share of the datagrams each way: a WAN link with loss.
type lossyRelay struct {
	conn    *net.UDPConn
	server  *net.UDPAddr
	loss    float64
	dropped atomic.Uint64
	passed  atomic.Uint64

	mu     sync.Mutex
	caller *net.UDPAddr
	up     *net.UDPConn // towards the server, one per caller
	wg     sync.WaitGroup
}

// startLossyRelay relays to server, dropping loss (0..1) of the datagrams.
func startLossyRelay(t *testing.T, server string, loss float64) *lossyRelay {
	t.Helper()
	sa, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	up, err := net.DialUDP("udp", nil, sa)
	if err != nil {
		t.Fatal(err)
	}
	r := &lossyRelay{conn: c, server: sa, loss: loss, up: up}
	r.wg.Add(2)
	go r.fromCaller()
	go r.fromServer()
	t.Cleanup(func() {
		c.Close()
		up.Close()
		r.wg.Wait()
	})
	return r
}

func (r *lossyRelay) Addr() string { return r.conn.LocalAddr().String() }

func (r *lossyRelay) drop() bool {
	if rand.Float64() < r.loss {
		r.dropped.Add(1)
		return true
	}
	r.passed.Add(1)
	return false
}

func (r *lossyRelay) fromCaller() {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		r.caller = from
		r.mu.Unlock()
		if !r.drop() {
			_, _ = r.up.Write(buf[:n])
		}
	}
}

func (r *lossyRelay) fromServer() {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, err := r.up.Read(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		caller := r.caller
		r.mu.Unlock()
		if caller != nil && !r.drop() {
			_, _ = r.conn.WriteToUDP(buf[:n], caller)
		}
	}
}

// Through a link losing 5 % of its datagrams each way, SRT's
// retransmission within a 200 ms latency delivers every frame.
func TestLossyLinkLosesNoFrame(t *testing.T) {
	needFFmpeg(t)
	r := startRig(t, 200*time.Millisecond, map[string]string{"cam": "srt://:" + testPassphrase + "@"})
	src := r.sources["cam"].(*Source)
	relay := startLossyRelay(t, r.addr, 0.05)
	c := countFrames(t, src.Stream())
	const seconds, fps = 5, 25
	out, err := publish(t, publishOpts{addr: relay.Addr(), streamID: "ingest/cam", passphrase: testPassphrase, seconds: seconds, fps: fps, latency: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	st := src.Status()
	video, audio := c.counts()
	t.Logf("relay dropped %d of %d datagrams; srt %+v; received %d of %d video frames, %d audio", relay.dropped.Load(),
		relay.dropped.Load()+relay.passed.Load(), st.SRT, video, seconds*fps, audio)
	c.checkVideo(t, seconds*fps, fps, 200*time.Millisecond)
	if st.SRT == nil || st.SRT.PacketsRetransmitted == 0 || st.SRT.PacketsLost == 0 {
		t.Errorf("no loss or retransmission counted: %+v", st.SRT)
	}
}

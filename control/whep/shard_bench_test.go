package whep

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/srtp/v3"

	"diemcau/pipeline"
)

// discardConn is the network under a benchmark viewer's SRTP session:
// writes vanish, reads wait for Close.
type discardConn struct {
	bytes  atomic.Uint64
	closed chan struct{}
	once   sync.Once
}

func (c *discardConn) Write(b []byte) (int, error) { c.bytes.Add(uint64(len(b))); return len(b), nil }
func (c *discardConn) Read([]byte) (int, error) {
	<-c.closed
	return 0, net.ErrClosed
}
func (c *discardConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }
func (c *discardConn) LocalAddr() net.Addr              { return &net.UDPAddr{} }
func (c *discardConn) RemoteAddr() net.Addr             { return &net.UDPAddr{} }
func (c *discardConn) SetDeadline(time.Time) error      { return nil }
func (c *discardConn) SetReadDeadline(time.Time) error  { return nil }
func (c *discardConn) SetWriteDeadline(time.Time) error { return nil }

// srtpViewer is pion's SRTP write stream over a discarding connection:
// the AES-GCM pass and the header marshalling every real viewer costs,
// without the socket.
func srtpViewer(b *testing.B) (*srtp.WriteStreamSRTP, func()) {
	key, salt := bytes.Repeat([]byte{7}, 16), bytes.Repeat([]byte{9}, 12)
	conn := &discardConn{closed: make(chan struct{})}
	s, err := srtp.NewSessionSRTP(conn, &srtp.Config{
		Profile: srtp.ProtectionProfileAeadAes128Gcm,
		Keys:    srtp.SessionKeys{LocalMasterKey: key, LocalMasterSalt: salt, RemoteMasterKey: key, RemoteMasterSalt: salt},
		// Closing the session ends its reader with an error it logs.
		LoggerFactory: &logging.DefaultLoggerFactory{DefaultLogLevel: logging.LogLevelDisabled},
	})
	if err != nil {
		b.Fatal(err)
	}
	w, err := s.OpenWriteStream()
	if err != nil {
		b.Fatal(err)
	}
	return w, func() { _ = s.Close() }
}

// BenchmarkShardFanOut is one 2 Mbps P-frame (7 RTP packets, packetised
// once) written by a stream's shards to N viewers through pion's SRTP
// encryption, with no socket under it: what the senders themselves cost
// and how it spreads over cores. One op is one frame reaching every
// viewer; allocs/op are the whole process's (the ring's blocks, amortised,
// and whatever the SRTP path allocates per packet).
func BenchmarkShardFanOut(b *testing.B) {
	for _, viewers := range []int{100, 500} {
		for _, senders := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("viewers=%d/senders=%d", viewers, senders), func(b *testing.B) {
				benchShardFanOut(b, viewers, senders)
			})
		}
	}
}

func benchShardFanOut(b *testing.B, viewers, senders int) {
	track := &pipeline.Track{Codec: pipeline.H264, SPS: []byte{0x67, 0x42, 0xc0, 0x1e}, PPS: []byte{0x68, 1}}
	s := pipeline.NewStream("bench", track)
	defer s.Close()
	cfg := Config{Senders: senders}.withDefaults()
	bc := newBroadcaster(s, false, cfg, slog.New(slog.DiscardHandler), newBatchGroup(senders))
	defer bc.reader.Close()
	for range viewers {
		w, closeW := srtpViewer(b)
		defer closeW()
		sh := bc.assign()
		bd := &binding{kind: pipeline.Video, ssrc: 1, pt: 96, w: w, shard: sh, state: bindLive}
		bd.armed.Store(true)
		sh.add(bd)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, sh := range bc.shards {
		wg.Go(func() { sh.run(ctx) })
	}
	defer func() { cancel(); wg.Wait() }()

	// 2 Mbps at 30 fps: about 8 KB a frame, 7 packets.
	nal := bytes.Repeat([]byte{0x41, 0x9a}, 4000)
	frame := &pipeline.Frame{Track: track, NALUs: [][]byte{nal}}
	i := 0
	write := func() {
		frame.PTS = time.Duration(i) * time.Second / 30
		i++
		bc.writeFrame(frame)
		for _, sh := range bc.shards {
			for sh.pending() > 0 {
				time.Sleep(20 * time.Microsecond) // not a spin: the shards need the cores
			}
		}
	}
	// Fill the ring once, as in a running stream.
	for range 200 {
		write()
	}
	var sends0 uint64
	for _, sh := range bc.shards {
		sends0 += sh.sends.Load()
	}
	packets0 := bc.packets.Load()
	cpu0 := processCPU()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		write()
	}
	b.StopTimer()
	// Cores busy over the loop: near the senders' count when the machine
	// has them free (the wall time says little on a loaded machine).
	b.ReportMetric((processCPU()-cpu0).Seconds()/b.Elapsed().Seconds(), "cores")
	var sends uint64
	for _, sh := range bc.shards {
		sends += sh.sends.Load()
	}
	sends -= sends0
	if want := (bc.packets.Load() - packets0) * uint64(viewers); sends != want {
		b.Fatalf("%d packets written, want %d", sends, want)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sends), "ns/send")
}

// processCPU is this process's user and system time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"diemcau/ingest/camsim"
	"diemcau/internal/testkit"
	"diemcau/pipeline/gst"
)

// camsimLoop packetises camsim's default loop: 1280x720 30 fps 2 Mbit/s.
func camsimLoop(b *testing.B) *camsim.PacketLoop {
	b.Helper()
	if !gst.HasElement("x264enc") {
		b.Skip("x264enc not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := gst.EncodeLoop(ctx, gst.LoopConfig{
		TestPicture: gst.TestPicture{Width: 1280, Height: 720, FPS: 30},
		BitrateKbps: 2000,
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	pl, err := camsim.NewPacketLoop(l, camsim.DefaultMTU)
	if err != nil {
		b.Fatal(err)
	}
	return pl
}

type camsimDiscard struct{}

func (camsimDiscard) WritePacketRTPWithNTP(*description.Media, *rtp.Packet, time.Time) error {
	return nil
}

// BenchmarkCamsimReplay is camsim's own per-packet cost: re-stamping the
// shared, pre-packetised loop for one camera (one op = one video frame).
func BenchmarkCamsimReplay(b *testing.B) {
	pl := camsimLoop(b)
	r := camsim.NewReplayer(pl.Video, nil, 1, 1, 0)
	b.ReportAllocs()
	b.ResetTimer()
	packets := 0
	for i := range b.N {
		n, _ := r.WriteFrame(camsimDiscard{}, int64(i), time.Time{})
		packets += n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(packets), "ns/packet")
	b.ReportMetric(float64(packets)/float64(b.N), "packets/frame")
}

// BenchmarkCamsimReplayStream writes the replay into a gortsplib
// ServerStream without readers: the library's own per-packet cost (marshal
// into a fresh buffer, RTCP sender bookkeeping), which camsim pays only
// while a camera is watched; an unwatched camera writes nothing.
func BenchmarkCamsimReplayStream(b *testing.B) {
	pl := camsimLoop(b)
	srv := &gortsplib.Server{
		RTSPAddress: "127.0.0.1:0",
		Listen:      func(network, addr string) (net.Listener, error) { return net.Listen(network, addr) },
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	desc := pl.Description()
	st := &gortsplib.ServerStream{Server: srv, Desc: desc}
	if err := st.Initialize(); err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	r := camsim.NewReplayer(pl.Video, desc.Medias[0], 1, 1, 0)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	packets := 0
	for i := range b.N {
		n, err := r.WriteFrame(st, int64(i), now)
		if err != nil {
			b.Fatal(err)
		}
		packets += n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(packets), "ns/packet")
}

// camsimReaderEnv carries the camsim address to the reader child process.
const camsimReaderEnv = "DIEMCAU_CAMSIM_READER_ADDR"

// BenchmarkCamsimCameras is the capacity figure: 32 cameras of 720p30 at
// 2 Mbit/s, every one of them read over TCP by a child process, so the CPU
// measured here (getrusage of this process) is camsim's alone.
func BenchmarkCamsimCameras(b *testing.B) {
	for _, n := range []int{32} {
		b.Run(fmt.Sprintf("%d-cameras-720p30-2M", n), func(b *testing.B) { benchCamsimCameras(b, n) })
	}
}

func benchCamsimCameras(b *testing.B, n int) {
	if !gst.HasElement("x264enc") {
		b.Skip("x264enc not installed")
	}
	sim, err := camsim.New(camsim.Config{Listen: "127.0.0.1:0", Cameras: n, Width: 1280, Height: 720, FPS: 30, BitrateKbps: 2000}, nil)
	if err != nil {
		b.Fatal(err)
	}
	testkit.Start(b, "camsim", sim.Run).WaitReady(sim.Ready(), time.Minute)

	child := exec.Command(os.Args[0], "-test.run", "^TestCamsimReaderProcess$", "-test.v")
	child.Env = append(os.Environ(), camsimReaderEnv+"="+sim.Addr(), fmt.Sprintf("DIEMCAU_CAMSIM_READERS=%d", n))
	stdin, err := child.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = child.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "READY") {
		// test -v chatter before the child's readers are all playing
	}
	if st := sim.Stats(); st.Readers != n {
		b.Fatalf("%d of %d cameras read", st.Readers, n)
	}
	time.Sleep(time.Second) // past the first IDR bursts

	b.ResetTimer()
	cpu0, p0, t0 := camsimProcessCPU(), sim.Stats().Packets, time.Now()
	time.Sleep(time.Duration(b.N) * 5 * time.Second)
	cpu, packets, wall := camsimProcessCPU()-cpu0, sim.Stats().Packets-p0, time.Since(t0)
	b.StopTimer()
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu-cores")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(packets), "cpu-ns/packet")
	b.ReportMetric(float64(packets)/wall.Seconds(), "packets/s")
}

// TestCamsimReaderProcess is the child of BenchmarkCamsimCameras: it plays
// every camera over TCP and counts packets until its stdin closes. It does
// nothing unless started by the benchmark.
func TestCamsimReaderProcess(t *testing.T) {
	addr := os.Getenv(camsimReaderEnv)
	if addr == "" {
		t.Skip("run by BenchmarkCamsimCameras")
	}
	n, _ := strconv.Atoi(os.Getenv("DIEMCAU_CAMSIM_READERS"))
	var packets atomic.Int64
	for i := 1; i <= n; i++ {
		u, err := base.ParseURL(fmt.Sprintf("rtsp://%s/cam%d", addr, i))
		if err != nil {
			t.Fatal(err)
		}
		tcp := gortsplib.TransportTCP
		c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Transport: &tcp}
		if err := c.Start2(); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		desc, _, err := c.Describe(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
			t.Fatal(err)
		}
		c.OnPacketRTPAny(func(*description.Media, format.Format, *rtp.Packet) { packets.Add(1) })
		if _, err := c.Play(nil); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
	t.Logf("%d packets", packets.Load())
}

func camsimProcessCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

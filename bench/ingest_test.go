package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/pion/rtp"

	"diemcau/ingest"
	"diemcau/internal/rtsptest"
	"diemcau/internal/testclip"
	"diemcau/internal/testkit"
)

// ingestClip is two seconds of real 1280x720 25 fps H.264 at 2 Mbit/s, one
// keyframe a second, no B-frames (what IP cameras send), in decode order.
// The depacketizer parses slice headers for timing, so the bytes must be a
// real encoder's output.
type ingestClip struct {
	aus      [][][]byte
	sps, pps []byte
}

func loadIngestClip(b testing.TB) *ingestClip {
	b.Helper()
	c := testclip.Load(b, testclip.Spec{Width: 1280, Height: 720, FPS: 25, Seconds: 2, GOP: 25, Kbps: 2000, Rate: testclip.CBR})
	return &ingestClip{aus: c.AUs, sps: c.SPS, pps: c.PPS}
}

func (c *ingestClip) format() *format.H264 {
	return &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: c.sps, PPS: c.pps}
}

// packets packetises the clip once, as a camera would (1460-byte payloads).
func (c *ingestClip) packets(b testing.TB) (pkts []*rtp.Packet, pts []int64) {
	enc := &rtph264.Encoder{PayloadType: 96, PacketizationMode: 1}
	if err := enc.Init(); err != nil {
		b.Fatal(err)
	}
	for i, au := range c.aus {
		ps, err := enc.Encode(au)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range ps {
			p.Timestamp = uint32(i * 3600)
			pkts = append(pkts, p)
			pts = append(pts, int64(i*3600))
		}
	}
	return pkts, pts
}

// BenchmarkDepacketizeH264 is the per-packet cost of turning RTP into
// frames for a 720p 2 Mbit/s camera: gortsplib's H.264 RTP decoder, the
// parameter-set handling and the DTS extractor. One op is one packet.
func BenchmarkDepacketizeH264(b *testing.B) {
	clip := loadIngestClip(b)
	pkts, pts := clip.packets(b)
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{clip.format()}}}}
	d, err := ingest.NewDepacketizer("bench", desc)
	if err != nil {
		b.Fatal(err)
	}
	m := d.Medias()[0]
	loopTicks := int64(len(clip.aus) * 3600)
	var size int64
	for _, p := range pkts {
		size += int64(len(p.Payload))
	}
	b.SetBytes(size / int64(len(pkts)))
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	frames := 0
	now := time.Now()
	for i := range b.N {
		k := i % len(pkts)
		loop := int64(i / len(pkts))
		p := pkts[k]
		p.Timestamp = uint32(pts[k] + loop*loopTicks)
		frames += len(d.HandlePacket(m, p, pts[k]+loop*loopTicks, now))
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	if d.Errors() != 0 {
		b.Fatalf("%d decode errors: %s", d.Errors(), d.LastError())
	}
	b.ReportMetric(float64(len(pkts))/float64(len(clip.aus)), "pkts/frame")
	if frames > 0 {
		b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(frames), "allocs/frame")
	}
}

// envCameraServer makes the test binary a camera server (see
// TestIngestCameraServer): the cameras then run in another process and the
// ingest benchmark measures only diemcau's side.
const envCameraServer = "DIEMCAU_BENCH_CAMERAS"

// BenchmarkIngestCameras pulls N cameras of 720p 2 Mbit/s over RTSP/TCP on
// loopback into their Streams and reports the CPU the pulling process uses,
// in cores. The cameras run in a child process. One op is one second of
// ingest: run it with -benchtime=5x.
func BenchmarkIngestCameras(b *testing.B) {
	for _, n := range []int{16, 64} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchIngest(b, n) })
	}
}

func benchIngest(b *testing.B, n int) {
	loadIngestClip(b) // skip early without ffmpeg; the child encodes its own
	port := freePort(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestIngestCameraServer$", "-test.v")
	cmd.Env = append(os.Environ(), envCameraServer+"="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()

	log := slog.New(slog.DiscardHandler)
	var srcs []*ingest.PullSource
	for i := range n {
		s, err := ingest.NewPullSource(ingest.PullConfig{
			ID: fmt.Sprintf("cam%d", i), URL: fmt.Sprintf("rtsp://127.0.0.1:%d/cam%d", port, i), Transport: ingest.TransportTCP,
		}, log)
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, s)
	}
	for _, s := range srcs {
		testkit.Start(b, "camera "+s.ID(), s.Run)
	}
	waitAllOnline(b, "cameras", srcs)
	time.Sleep(time.Second) // let the connections settle

	frames0 := framesOf(srcs)
	cpu, wall := measureSeconds(b)
	var frames, lost uint64
	for _, s := range srcs {
		st := s.Status()
		frames += st.Frames
		lost += st.PacketsLost
	}
	frames -= frames0
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(n), "%core/camera")
	b.ReportMetric(float64(frames)/wall.Seconds(), "frames/s")
	b.ReportMetric(float64(lost), "lost")
}

// processCPU is the user and system CPU this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func freePort(b testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestIngestCameraServer is the child process of BenchmarkIngestCameras:
// an RTSP server with paths /cam0 … /camN that all replay the same 720p
// clip in real time (one shared stream, so the server's cost stays low).
// It does nothing unless started by the benchmark.
func TestIngestCameraServer(t *testing.T) {
	portStr := os.Getenv(envCameraServer)
	if portStr == "" {
		t.Skip("child process of BenchmarkIngestCameras")
	}
	clip := loadIngestClip(t)
	pkts, pts := clip.packets(t)
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{clip.format()}}}}
	cam, err := rtsptest.Start(&gortsplib.Server{RTSPAddress: "127.0.0.1:" + portStr, WriteQueueSize: 4096}, desc)
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()

	// Replay until the parent kills this process.
	start := time.Now()
	loopTicks := int64(len(clip.aus) * 3600)
	for i := 0; ; i++ {
		k := i % len(pkts)
		loop := int64(i / len(pkts))
		ts := pts[k] + loop*loopTicks
		if wait := time.Duration(ts)*time.Second/90000 - time.Since(start); wait > 0 {
			time.Sleep(wait)
		}
		p := *pkts[k]
		p.Timestamp = uint32(ts)
		p.SequenceNumber = uint16(i) // continuous across loops: a gap is a loss
		_ = cam.Stream.WritePacketRTP(desc.Medias[0], &p)
	}
}

// waitAllOnline waits up to 60 s for every source to be online; what names
// them in the failure.
func waitAllOnline[S interface{ Status() ingest.Status }](b *testing.B, what string, srcs []S) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		online := 0
		for _, s := range srcs {
			if s.Status().State == ingest.StateOnline {
				online++
			}
		}
		if online == len(srcs) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d %s online after 60 s", online, len(srcs), what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// framesOf is the frames the sources have taken in so far.
func framesOf[S interface{ Status() ingest.Status }](srcs []S) uint64 {
	var n uint64
	for _, s := range srcs {
		n += s.Status().Frames
	}
	return n
}

// measureSeconds lets b.N seconds of ingest pass and returns the CPU this
// process spent in them and the wall time they took.
func measureSeconds(b *testing.B) (cpu, wall time.Duration) {
	cpu0, wall0 := processCPU(), time.Now()
	b.ResetTimer()
	for range b.N {
		time.Sleep(time.Second)
	}
	b.StopTimer()
	return processCPU() - cpu0, time.Since(wall0)
}

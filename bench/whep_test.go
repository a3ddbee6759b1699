package bench

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"diemcau/bench/relay"
)

// TestRelayLoadGenProcess is not a test: it is the viewers' process of the
// WHEP benchmarks, started by re-executing this test binary, so that the
// server's CPU is measured apart from the viewers'.
func TestRelayLoadGenProcess(t *testing.T) {
	if os.Getenv("DIEMCAU_RELAY_LOADGEN") != "1" {
		t.Skip("helper process of BenchmarkWHEP*")
	}
	if err := relay.LoadGenMain(context.Background(), flag.Args(), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "relay viewers:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// benchLog is silent unless DIEMCAU_BENCH_LOG is set.
func benchLog() *slog.Logger {
	if os.Getenv("DIEMCAU_BENCH_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

func loadGen(b *testing.B) []string {
	b.Setenv("DIEMCAU_RELAY_LOADGEN", "1")
	return []string{os.Args[0], "-test.run=^TestRelayLoadGenProcess$", "--"}
}

// BenchmarkWHEPFanOut is the cost of one 2 Mbps P-frame (7 RTP packets,
// packetised once) reaching N real WebRTC viewers: header rewrite, SRTP and
// the batched UDP write per viewer, plus the allocations on that path. The
// viewers run in another process. senders=1 is one sender per stream (the
// design before shards); senders=0 is one per core, the default. "cores"
// is the server process's CPU over the loop: above 1 only where the
// shards have cores to spread over.
func BenchmarkWHEPFanOut(b *testing.B) {
	cases := []struct {
		viewers, senders int
		gso              bool
	}{{1, 0, true}, {10, 0, true}, {50, 0, true}, {50, 0, false}, {200, 1, true}, {200, 0, true}}
	for _, tc := range cases {
		n := tc.viewers
		b.Run(fmt.Sprintf("viewers=%d/gso=%v/senders=%d", n, tc.gso, tc.senders), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			h, err := relay.Start(ctx, relay.Config{Viewers: n, ManualFeed: true, NoAudio: true, DisableGSO: !tc.gso, Senders: tc.senders, LoadGen: loadGen(b)}, benchLog())
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := h.Close(); err != nil {
					b.Error(err)
				}
			}()
			write := func() {
				before := h.Server.Stats().Frames
				h.WriteFrame()
				for {
					st := h.Server.Stats()
					if st.Frames != before && st.Pending == 0 {
						break
					}
					time.Sleep(5 * time.Microsecond)
				}
			}
			// Fill the stream's ring once, as in a running stream.
			for range 600 {
				write()
			}
			st0 := h.Server.Stats()
			cpu0 := relay.ProcessCPU()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				write()
			}
			b.StopTimer()
			b.ReportMetric((relay.ProcessCPU()-cpu0)/b.Elapsed().Seconds(), "cores")
			st := h.Server.Stats()
			sends := st.Sends - st0.Sends
			if sends == 0 {
				b.Fatal("no packet reached a viewer")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sends), "ns/send")
			b.ReportMetric(float64(sends)/float64(b.N)/float64(n), "packets/frame")
			if st.Syscalls > st0.Syscalls {
				b.ReportMetric(float64(st.Datagrams-st0.Datagrams)/float64(st.Syscalls-st0.Syscalls), "datagrams/syscall")
			}
		})
	}
}

// BenchmarkWHEPRelay is the relay scenario of issue 4: one 2 Mbps camera
// with Opus to M viewers for 10 s, the server's CPU and memory per viewer
// measured apart from the viewers' process. Each run takes about 20 s
// plus connection time, so b.N stays 1.
func BenchmarkWHEPRelay(b *testing.B) {
	for _, m := range []int{50, 150, 300} {
		b.Run(fmt.Sprintf("viewers=%d", m), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			var r *relay.Result
			for range b.N {
				var err error
				r, err = relay.Run(ctx, relay.Config{Viewers: m, Duration: 10 * time.Second, LoadGen: loadGen(b)}, benchLog())
				if err != nil {
					b.Fatal(err)
				}
			}
			b.Log("\n" + r.Table())
			b.ReportMetric(100*r.ServerCPU, "server-%core")
			b.ReportMetric(r.CPUPerViewer, "%core/viewer")
			b.ReportMetric(r.CPUPerPacket, "µs/packet")
			b.ReportMetric(r.HeapPerViewer/1024, "heap-KiB/viewer")
			b.ReportMetric(r.RSSPerViewer/1024, "rss-KiB/viewer")
			b.ReportMetric(100*r.LoadGenCPU, "loadgen-%core")
			if r.PacketsReceived > 0 {
				b.ReportMetric(1e6*float64(r.PacketsLost)/float64(r.PacketsReceived+r.PacketsLost), "lost-ppm")
			}
			if r.ViewersStarved > 0 {
				b.Errorf("%d viewers received nothing", r.ViewersStarved)
			}
			if !r.KeptUp {
				b.Logf("the server did not keep up (%.1f frames/s): the machine is busy, CPU per viewer is an underestimate; see µs/packet", r.FramesPerSecond)
			}
		})
	}
}

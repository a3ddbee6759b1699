package bench

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"diemcau/control/whep"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
)

// BenchmarkOutputToLiveKit is the CPU diemcau spends per session output
// (control/whep.Pusher: H.264 packetised, DTLS-SRTP, sender reports, NACK
// answers, TWCC) publishing a 720p 25 fps 2 Mbit/s stream to LiveKit's
// WHIP endpoint, one room per output; livekit-server (bin/, `make
// interop`) runs in a child process, so the figure is the pushers' and the
// streams' feeding alone. One op is one 40 ms frame written to every
// stream in real time: -benchtime=250x is 10 s.
func BenchmarkOutputToLiveKit(b *testing.B) {
	server, reader := filepath.Join("..", "bin", "livekit-server"), filepath.Join("..", "bin", "lkread")
	for _, f := range []string{server, reader} {
		if _, err := os.Stat(f); err != nil {
			b.Skipf("%s: %v (make interop builds it)", f, err)
		}
	}
	track, aus := recorderGOP(b)
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("outputs=%d", n), func(b *testing.B) { benchOutputs(b, server, reader, track, aus, n) })
	}
}

func benchOutputs(b *testing.B, server, reader string, track *pipeline.Track, aus [][][]byte, n int) {
	dir := b.TempDir()
	port, udp, tcp := freePort(b), freePort(b), freePort(b)
	const key, secret = "bench", "bench-secret-bench-secret-bench-secret"
	cfg := filepath.Join(dir, "livekit.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`port: %d
bind_addresses: ["127.0.0.1"]
keys: {%s: %q}
rtc: {udp_port: %d, tcp_port: %d, use_external_ip: false, node_ip: 127.0.0.1, enable_loopback_candidate: true}
logging: {level: warn}
`, port, key, secret, udp, tcp)), 0o600); err != nil {
		b.Fatal(err)
	}
	lk := exec.Command(server, "--config", cfg)
	if err := lk.Start(); err != nil {
		b.Fatal(err)
	}
	// After the pushers (their cleanups run first): they end their
	// sessions while LiveKit still answers.
	b.Cleanup(func() { _ = lk.Process.Kill(); _ = lk.Wait() })

	streams := make([]*pipeline.Stream, n)
	pushers := make([]*whep.Pusher, n)
	for i := range n {
		out, err := exec.Command(reader, "token", "-key", key, "-secret", secret, "-room", fmt.Sprintf("room%d", i),
			"-identity", "diemcau", "-publish").Output()
		if err != nil {
			b.Fatalf("lkread token: %v", err)
		}
		streams[i] = pipeline.NewStream(fmt.Sprintf("s%d", i), track)
		pushers[i], err = whep.NewPusher(whep.PusherConfig{Name: fmt.Sprintf("o%d", i), URL: fmt.Sprintf("http://127.0.0.1:%d/whip/v1", port),
			Token: strings.TrimSpace(string(out)), Stream: streams[i]}, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
	}
	// Frames in real time, 25 a second, to every stream; i counts them.
	var i int
	write := func() {
		au := aus[i%len(aus)]
		ts := time.Duration(i) * 40 * time.Millisecond
		key := h264.NALUType(au[len(au)-1][0]&0x1f) == h264.NALUTypeIDR
		for _, s := range streams {
			s.Write(&pipeline.Frame{Track: track, PTS: ts, DTS: ts, Key: key, NALUs: au})
		}
		i++
	}
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	for _, p := range pushers {
		testkit.Start(b, "pusher", p.Run)
	}
	// LiveKit starts in well under a second; the pushers retry until it
	// answers and then connect.
	deadline := time.Now().Add(30 * time.Second)
	for online := 0; online < n; {
		<-tick.C
		write()
		online = 0
		for _, p := range pushers {
			if p.Status().State == "online" {
				online++
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d outputs online after 30 s: %+v", online, n, pushers[0].Status())
		}
	}
	for range 25 { // a second to settle
		<-tick.C
		write()
	}
	sent0 := uint64(0)
	for _, p := range pushers {
		sent0 += p.Status().FramesSent
	}
	b.ResetTimer()
	cpu0, wall0 := processCPU(), time.Now()
	for range b.N {
		<-tick.C
		write()
	}
	cpu, wall := processCPU()-cpu0, time.Since(wall0)
	b.StopTimer()
	sent := uint64(0)
	for _, p := range pushers {
		sent += p.Status().FramesSent
		if st := p.Status(); st.State != "online" || st.Connects != 1 {
			b.Errorf("output %+v, want online after one connect", st)
		}
	}
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(n), "%core/output")
	b.ReportMetric(float64(sent-sent0)/wall.Seconds()/float64(n), "frames/s/output")
}

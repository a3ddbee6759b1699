package bench

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"diemcau/internal/testkit"
	"diemcau/pipeline/gst"
)

// BenchmarkAppSrcAppSink measures the Go↔GStreamer bridge alone: one op is
// one 8 kB coded frame pushed into appsrc and pulled back out of appsink
// (copied into Go memory), through `queue` and nothing else, the cost every
// point and every composite frame pays on its way in and out of the mixer.
func BenchmarkAppSrcAppSink(b *testing.B) {
	gst.Init()
	var got atomic.Int64
	r, err := gst.NewRunner(gst.RunnerConfig{
		Name:    "bench-appsrc",
		Launch:  "appsrc name=in ! queue ! appsink name=out sync=false",
		Sources: []gst.SourceConfig{{Name: "in", Caps: "video/x-h264,stream-format=byte-stream,alignment=au"}},
		Sinks:   []gst.SinkConfig{{Name: "out", Lossless: true, OnSample: func(gst.Sample) { got.Add(1) }}},
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	run := testkit.Start(b, "appsrc runner", r.Run)
	run.WaitReady(r.Ready(), time.Minute)
	src := r.Source("in")
	frame := make([]byte, 8000)
	frame[0], frame[1], frame[2], frame[3], frame[4] = 0, 0, 0, 1, 0x41
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	pushed := 0
	for i := 0; i < b.N; i++ {
		if src.Push(frame, time.Duration(i)*33*time.Millisecond, 33*time.Millisecond) {
			pushed++
		}
		// Keep at most a few frames in flight, as a live source does.
		for int64(pushed)-got.Load() > 8 {
			time.Sleep(10 * time.Microsecond)
		}
	}
	for int64(pushed) > got.Load() {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	_, dropped := src.Counts()
	b.ReportMetric(float64(dropped), "dropped")
	src.EndOfStream()
	if err := run.Wait(time.Minute); err != nil {
		b.Fatal(err)
	}
}

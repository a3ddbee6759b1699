package bench

import (
	"fmt"
	"testing"
	"time"

	"diemcau/pipeline"
)

// BenchmarkStreamFanOut measures one Write reaching N readers that keep up,
// the steady state of a point watched by the mixer, recorder and viewers.
// The frame itself is allocated by the writer (once, shared); the target is
// no allocation per frame per reader.
func BenchmarkStreamFanOut(b *testing.B) {
	track := &pipeline.Track{Codec: pipeline.H264, Width: 1280, Height: 720}
	payload := [][]byte{make([]byte, 8000)}
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("readers=%d", n), func(b *testing.B) {
			s := pipeline.NewStream("bench", track)
			readers := make([]*pipeline.Reader, n)
			for i := range readers {
				readers[i] = s.NewReader(pipeline.ReaderConfig{Queue: 64})
			}
			frames := make([]pipeline.Frame, 64)
			for i := range frames {
				frames[i] = pipeline.Frame{Track: track, NALUs: payload, Key: i == 0}
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				f := &frames[i%len(frames)]
				f.PTS = time.Duration(i) * time.Millisecond
				s.Write(f)
				for _, r := range readers {
					r.TryRead()
				}
			}
			el := time.Since(start)
			b.ReportMetric(float64(b.N*n)/el.Seconds(), "deliveries/s")
			for _, r := range readers {
				if st := r.Stats(); st.Dropped > 0 {
					b.Fatalf("reader dropped %d frames while keeping up", st.Dropped)
				}
				r.Close()
			}
			s.Close()
		})
	}
}

// BenchmarkStreamSlowReader shows the writer's cost does not grow when a
// reader stops reading: its queue fills and it only counts drops.
func BenchmarkStreamSlowReader(b *testing.B) {
	track := &pipeline.Track{Codec: pipeline.H264}
	s := pipeline.NewStream("bench", track)
	stuck := s.NewReader(pipeline.ReaderConfig{Queue: 16})
	live := s.NewReader(pipeline.ReaderConfig{Queue: 64})
	f := &pipeline.Frame{Track: track, NALUs: [][]byte{make([]byte, 1000)}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Write(f)
		live.TryRead()
	}
	b.StopTimer()
	if stuck.Stats().Dropped == 0 && b.N > 16 {
		b.Fatal("stuck reader should be losing frames")
	}
	stuck.Close()
	live.Close()
	s.Close()
}

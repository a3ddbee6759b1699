package bench

import (
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"diemcau/internal/testclip"
	"diemcau/internal/testkit"
	"diemcau/pipeline"
	"diemcau/recorder"
)

// recorderGOP is two seconds of real 1280x720 H.264 at 2 Mbit/s, 25 fps, a
// keyframe each second, no B-frames, as frames of one track.
func recorderGOP(b *testing.B) (*pipeline.Track, [][][]byte) {
	b.Helper()
	c := testclip.Load(b, testclip.Spec{Width: 1280, Height: 720, FPS: 25, Seconds: 2, GOP: 25,
		Kbps: 2000, Rate: testclip.Capped, BufferKbps: 1000})
	return &pipeline.Track{Codec: pipeline.H264, SPS: c.SPS, PPS: c.PPS, Width: 1280, Height: 720, FPS: 25}, c.AUs
}

// recorderSound is a stream's sound for the recorder benchmarks: real Opus
// packets (20 ms, 48 kHz stereo), written lead ahead of the picture of
// their time, as a composite's or a camera's sound arrives.
type recorderSound struct {
	track   *pipeline.Track
	packets [][]byte
	lead    time.Duration
}

func loadRecorderSound(b *testing.B) recorderSound {
	b.Helper()
	c := testclip.Load(b, testclip.Spec{Width: 320, Height: 180, FPS: 25, Seconds: 2, GOP: 25, Audio: testclip.Opus})
	return recorderSound{track: &pipeline.Track{Codec: pipeline.Opus, SampleRate: c.SampleRate, Channels: c.Channels}, packets: c.Packets}
}

func recorderCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecorderFragments records N passthrough streams of 2 Mbit/s
// H.264 into 1 s fragments and 5 min segments on the local disk. One op is
// one frame (40 ms) written to each of the N streams; the writer waits for
// the recorder every 25 frames, so nothing is dropped and the figures are
// the recorder's own cost. Metrics: cpu-%core/stream is the CPU the process
// spends per stream of real time (the target: 32 streams under 10%
// of one core, i.e. 0.31 per stream); disk-B/s/stream the bytes written per
// stream per second of media; fsync-p99-ms with fsync on.
func BenchmarkRecorderFragments(b *testing.B) {
	track, aus := recorderGOP(b)
	for _, fsync := range []bool{false, true} {
		for _, n := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("streams=%d/fsync=%v", n, fsync), func(b *testing.B) {
				benchRecorder(b, track, aus, nil, n, fsync)
			})
		}
	}
}

// BenchmarkRecorderSound is BenchmarkRecorderFragments with sound: each
// stream also carries Opus (two 20 ms packets per 40 ms op), written in
// step with its picture (lead=0) or 200 ms ahead of it, so that every
// packet waits in the recorder's hold until a picture of its time comes
// (recorder/stream_ahead.go). Its cost is the lead=200ms figure less the
// lead=0 one; fsync off.
func BenchmarkRecorderSound(b *testing.B) {
	track, aus := recorderGOP(b)
	sound := loadRecorderSound(b)
	for _, lead := range []time.Duration{0, 200 * time.Millisecond} {
		for _, n := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("lead=%v/streams=%d", lead, n), func(b *testing.B) {
				sound := sound
				sound.lead = lead
				benchRecorder(b, track, aus, &sound, n, false)
			})
		}
	}
}

// benchRecorder writes b.N frames of picture (and, with sound, their 40 ms
// of sound) to each of n streams.
func benchRecorder(b *testing.B, track *pipeline.Track, aus [][][]byte, sound *recorderSound, n int, fsync bool) {
	root := b.TempDir()
	rec, err := recorder.New(recorder.Config{Root: root, Segment: 5 * time.Minute, Part: time.Second, Fsync: fsync},
		slog.New(slog.DiscardHandler), recorder.WithFreeSpace(func(string) (int64, error) { return 1 << 50, nil }))
	if err != nil {
		b.Fatal(err)
	}
	testkit.Start(b, "recorder", rec.Run)

	streams := map[string]*pipeline.Stream{}
	list := make([]*pipeline.Stream, n)
	tracks := []*pipeline.Track{track}
	if sound != nil {
		tracks = append(tracks, sound.track)
	}
	for i := range list {
		list[i] = pipeline.NewStream(fmt.Sprintf("s%d", i), tracks...)
		streams[fmt.Sprintf("sources/s%d", i)] = list[i]
	}
	run, err := rec.StartRun("bench", streams)
	if err != nil {
		b.Fatal(err)
	}
	perOp := 1 // frames each op writes to a stream
	if sound != nil {
		perOp = 3
	}
	wait := func(ops int) {
		for {
			caught := true
			for _, ss := range run.Status().Streams {
				caught = caught && ss.Frames >= uint64(ops*perOp)
			}
			if caught {
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
	}

	b.ReportAllocs()
	b.ResetTimer()
	cpu0, wall0 := recorderCPU(), time.Now()
	for i := 0; i < b.N; i++ {
		au := aus[i%len(aus)]
		ts := time.Duration(i) * 40 * time.Millisecond
		key := h264.NALUType(au[len(au)-1][0]&0x1f) == h264.NALUTypeIDR
		for _, s := range list {
			if sound != nil {
				writeSound(s, sound, ts)
			}
			s.Write(&pipeline.Frame{Track: track, PTS: ts, DTS: ts, Key: key, NALUs: au})
		}
		if i%25 == 24 {
			wait(i + 1)
		}
	}
	wait(b.N)
	cpu, wall := recorderCPU()-cpu0, time.Since(wall0)
	b.StopTimer()
	if err := run.Stop(); err != nil {
		b.Fatal(err)
	}
	st := run.Status()
	media := time.Duration(b.N) * 40 * time.Millisecond
	for _, ss := range st.Streams {
		if ss.Dropped != 0 {
			b.Fatalf("%s dropped %d frames", ss.Stream, ss.Dropped)
		}
	}
	b.ReportMetric(float64(cpu)/float64(media)/float64(n)*100, "cpu-%core/stream")
	b.ReportMetric(float64(st.Bytes)/media.Seconds()/float64(n), "disk-B/s/stream")
	b.ReportMetric(float64(st.Bytes)/wall.Seconds()/1e6, "MB/s")
	if fsync {
		b.ReportMetric(float64(st.Fsync.P99)/1e6, "fsync-p99-ms")
	}
}

// writeSound writes the two 20 ms packets of sound that start lead after
// the picture at ts.
func writeSound(s *pipeline.Stream, sound *recorderSound, ts time.Duration) {
	const packet = 20 * time.Millisecond
	for k := range 2 {
		at := ts + sound.lead + time.Duration(k)*packet
		s.Write(&pipeline.Frame{Track: sound.track, PTS: at, DTS: at, Payload: sound.packets[int(at/packet)%len(sound.packets)]})
	}
}

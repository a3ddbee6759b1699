package pipeline

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	testVideo = &Track{Codec: H264, Width: 320, Height: 180}
	testAudio = &Track{Codec: Opus, SampleRate: 48000, Channels: 2}
)

func videoFrame(i int, key bool) *Frame {
	return &Frame{Track: testVideo, PTS: time.Duration(i) * 40 * time.Millisecond, Key: key, NALUs: [][]byte{{byte(i)}}}
}

func audioFrame(i int) *Frame {
	return &Frame{Track: testAudio, PTS: time.Duration(i) * 20 * time.Millisecond, Payload: []byte{byte(i)}}
}

func readAll(r *Reader) []*Frame {
	var out []*Frame
	for f := r.TryRead(); f != nil; f = r.TryRead() {
		out = append(out, f)
	}
	return out
}

func TestStreamFanOut(t *testing.T) {
	s := NewStream("cam", testVideo)
	readers := []*Reader{s.NewReader(ReaderConfig{}), s.NewReader(ReaderConfig{}), s.NewReader(ReaderConfig{})}
	for i := 0; i < 10; i++ {
		s.Write(videoFrame(i, i%5 == 0))
	}
	for i, r := range readers {
		got := readAll(r)
		if len(got) != 10 {
			t.Fatalf("reader %d: got %d frames, want 10", i, len(got))
		}
		for j, f := range got {
			if f.NALUs[0][0] != byte(j) {
				t.Fatalf("reader %d: frame %d out of order", i, j)
			}
		}
		r.Close()
	}
	if st := s.Stats(); st.Frames != 10 || st.Readers != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestSlowReaderLosesFramesAndResyncsAtKeyframe(t *testing.T) {
	s := NewStream("cam", testVideo)
	slow := s.NewReader(ReaderConfig{Queue: 4})
	fast := s.NewReader(ReaderConfig{Queue: 64})
	defer slow.Close()
	defer fast.Close()

	// GOP of 10: frames 0 and 10 are keyframes. The slow reader takes 4
	// frames, loses 5..9, then must restart exactly at keyframe 10.
	for i := 0; i < 12; i++ {
		s.Write(videoFrame(i, i%10 == 0))
	}
	if n := len(readAll(fast)); n != 12 {
		t.Fatalf("fast reader got %d frames, want 12", n)
	}
	got := readAll(slow)
	want := []byte{0, 1, 2, 3}
	if len(got) != len(want) {
		t.Fatalf("slow reader got %d frames before reading, want %d", len(got), len(want))
	}
	st := slow.Stats()
	if st.Dropped != 8 {
		t.Fatalf("dropped = %d, want 8 (4..11 while full and resyncing)", st.Dropped)
	}
	for i := 12; i < 22; i++ {
		s.Write(videoFrame(i, i%10 == 0))
	}
	got = readAll(slow)
	if len(got) == 0 || !got[0].Key || got[0].NALUs[0][0] != 20 {
		t.Fatalf("after a loss the reader must restart at a keyframe, got first %+v", got[0])
	}
}

func TestAudioPassesWhileVideoResyncs(t *testing.T) {
	s := NewStream("cam", testVideo, testAudio)
	r := s.NewReader(ReaderConfig{Queue: 2})
	defer r.Close()
	s.Write(videoFrame(0, true))
	s.Write(videoFrame(1, false))
	s.Write(videoFrame(2, false)) // lost: queue full, video resyncs
	readAll(r)
	s.Write(videoFrame(3, false)) // dropped: waiting for a keyframe
	s.Write(audioFrame(0))        // audio is not held back
	got := readAll(r)
	if len(got) != 1 || got[0].Track.Kind() != Audio {
		t.Fatalf("got %d frames, want the audio frame only", len(got))
	}
}

func TestNewReaderStartsAtLastKeyframe(t *testing.T) {
	tests := []struct {
		name         string
		frames       int
		gop          int
		fromKeyframe bool
		wantFirst    int // -1: nothing queued
		wantQueued   int
	}{
		{"gop cached", 13, 5, true, 10, 3},
		{"live only", 13, 5, false, -1, 0},
		{"no keyframe yet", 0, 5, true, -1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStream("cam", testVideo)
			for i := 0; i < tc.frames; i++ {
				s.Write(videoFrame(i, i%tc.gop == 0))
			}
			r := s.NewReader(ReaderConfig{FromKeyframe: tc.fromKeyframe})
			defer r.Close()
			got := readAll(r)
			if len(got) != tc.wantQueued {
				t.Fatalf("queued %d, want %d", len(got), tc.wantQueued)
			}
			if tc.wantFirst >= 0 && (!got[0].Key || int(got[0].NALUs[0][0]) != tc.wantFirst) {
				t.Fatalf("first frame %d, want keyframe %d", got[0].NALUs[0][0], tc.wantFirst)
			}
		})
	}
}

func TestReaderWithoutCacheWaitsForKeyframe(t *testing.T) {
	s := NewStream("cam", testVideo)
	r := s.NewReader(ReaderConfig{FromKeyframe: true})
	defer r.Close()
	s.Write(videoFrame(0, false))
	s.Write(videoFrame(1, true))
	got := readAll(r)
	if len(got) != 1 || !got[0].Key {
		t.Fatalf("want only the keyframe, got %d frames", len(got))
	}
}

func TestSetTracksSignalsChangeAndDropsCache(t *testing.T) {
	s := NewStream("cam", testVideo)
	s.Write(videoFrame(0, true))
	before := s.Changes()
	bigger := &Track{Codec: H264, Width: 640, Height: 360}
	s.SetTracks([]*Track{bigger})
	if s.Changes() != before+1 {
		t.Fatal("Changes did not move")
	}
	if s.Track(Video) != bigger || bigger.Index != 0 {
		t.Fatal("new track not published")
	}
	r := s.NewReader(ReaderConfig{FromKeyframe: true})
	defer r.Close()
	if f := r.TryRead(); f != nil {
		t.Fatal("a frame of the old parameters was handed to a new reader")
	}
}

func TestReadBlocksUntilFrameOrClose(t *testing.T) {
	s := NewStream("cam", testVideo)
	r := s.NewReader(ReaderConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(1)
	var got []*Frame
	var endErr error
	go func() {
		defer wg.Done()
		for {
			f, err := r.Read(ctx)
			if err != nil {
				endErr = err
				return
			}
			got = append(got, f)
		}
	}()
	for i := 0; i < 5; i++ {
		s.Write(videoFrame(i, i == 0))
	}
	s.Close()
	wg.Wait()
	if !errors.Is(endErr, ErrStreamClosed) {
		t.Fatalf("err = %v, want ErrStreamClosed", endErr)
	}
	if len(got) != 5 {
		t.Fatalf("got %d frames, want all 5 queued before close", len(got))
	}
	s.Write(videoFrame(6, true)) // ignored after close, must not panic
}

func TestReadReturnsOnContextAndReaderClose(t *testing.T) {
	s := NewStream("cam", testVideo)
	r := s.NewReader(ReaderConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(context.Background())
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrReaderClosed) {
			t.Fatalf("err = %v, want ErrReaderClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after Close")
	}
	if s.Stats().Readers != 0 {
		t.Fatal("closed reader still attached")
	}
}

func TestRequestKeyframeIsRateLimited(t *testing.T) {
	s := NewStream("mix", testVideo)
	if s.RequestKeyframe() {
		t.Fatal("no requester installed, yet a request was passed on")
	}
	calls := 0
	s.SetKeyframeRequester(func() { calls++ })
	for i := 0; i < 5; i++ {
		s.RequestKeyframe()
	}
	if calls != 1 {
		t.Fatalf("requester called %d times in a burst, want 1", calls)
	}
}

func TestEndlessGOPIsNotCachedForever(t *testing.T) {
	s := NewStream("cam", testVideo)
	s.Write(videoFrame(0, true))
	for i := 1; i <= maxGOPFrames+10; i++ {
		s.Write(videoFrame(i, false))
	}
	r := s.NewReader(ReaderConfig{FromKeyframe: true, Queue: 4096})
	defer r.Close()
	if f := r.TryRead(); f != nil {
		t.Fatal("cache should have been abandoned for an endless GOP")
	}
}

func TestConcurrentWritersReadersRace(t *testing.T) {
	s := NewStream("cam", testVideo, testAudio)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.NewReader(ReaderConfig{Queue: 8, FromKeyframe: true})
			defer r.Close()
			for n := 0; n < 50; n++ {
				if _, err := r.Read(ctx); err != nil {
					return
				}
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		if i%2 == 0 {
			s.Write(videoFrame(i, i%60 == 0))
		} else {
			s.Write(audioFrame(i))
		}
		if i == 1000 {
			s.SetTracks([]*Track{testVideo, testAudio})
		}
	}
	s.Close()
	wg.Wait()
}

// TestReaderPoll: Poll never waits; it tells an empty queue from a closed
// stream or reader.
func TestReaderPoll(t *testing.T) {
	s := NewStream("poll")
	r := s.NewReader(ReaderConfig{Name: "t"})
	if f, err := r.Poll(); f != nil || err != nil {
		t.Fatalf("empty: %v %v", f, err)
	}
	s.Write(&Frame{PTS: 1})
	if f, err := r.Poll(); f == nil || f.PTS != 1 || err != nil {
		t.Fatalf("queued: %v %v", f, err)
	}
	s.Close()
	if _, err := r.Poll(); err != ErrStreamClosed {
		t.Fatalf("closed stream: %v", err)
	}
	r.Close()
	if _, err := r.Poll(); err != ErrReaderClosed {
		t.Fatalf("closed reader: %v", err)
	}
}

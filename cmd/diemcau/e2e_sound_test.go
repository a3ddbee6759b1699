package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"diemcau/internal/proctest"
	"diemcau/internal/testkit"
)

// minSoundRate is the share of its expected audio frames a segment must
// hold: a segment may lose the frame its cut falls in, not more.
const minSoundRate = 0.98

// segmentSound is what ffprobe counts in one archive segment.
type segmentSound struct {
	codec         string
	audioFrames   int
	expectedRate  float64 // audio frames a second for the codec and rate
	videoDuration float64 // seconds
	// holes and overlaps are steps between consecutive audio frames
	// longer than 1.5 frames or shorter than half of one.
	holes, overlaps int
	firstStep       string // the first such step, for the report
}

// rate is the share of the expected audio frames the segment holds.
func (s segmentSound) rate() float64 {
	if s.expectedRate == 0 || s.videoDuration == 0 {
		return 0
	}
	return float64(s.audioFrames) / (s.expectedRate * s.videoDuration)
}

// probeSound reads a segment's audio packets and video length with ffprobe.
func probeSound(t *testing.T, seg string) segmentSound {
	t.Helper()
	code, out := run(t, 30*time.Second, "ffprobe", "-v", "error", "-count_packets",
		"-show_entries", "stream=codec_type,codec_name,sample_rate,nb_read_packets,duration", "-of", "json", seg)
	if code != 0 {
		t.Fatalf("ffprobe %s: exit %d\n%s", seg, code, out)
	}
	var pr struct {
		Streams []struct {
			CodecType  string `json:"codec_type"`
			CodecName  string `json:"codec_name"`
			SampleRate string `json:"sample_rate"`
			Packets    string `json:"nb_read_packets"`
			Duration   string `json:"duration"`
		} `json:"streams"`
	}
	if err := json.Unmarshal([]byte(out), &pr); err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", seg, err, out)
	}
	var s segmentSound
	for _, st := range pr.Streams {
		switch st.CodecType {
		case "video":
			s.videoDuration, _ = strconv.ParseFloat(st.Duration, 64)
		case "audio":
			s.codec = st.CodecName
			s.audioFrames, _ = strconv.Atoi(st.Packets)
			rate, _ := strconv.ParseFloat(st.SampleRate, 64)
			switch st.CodecName {
			case "aac":
				s.expectedRate = rate / 1024
			case "opus":
				s.expectedRate = 50 // 20 ms packets
			}
		}
	}
	if s.expectedRate > 0 {
		s.steps(t, seg)
	}
	return s
}

// steps reads the audio packets' times and counts holes and overlaps.
func (s *segmentSound) steps(t *testing.T, seg string) {
	t.Helper()
	code, out := run(t, 30*time.Second, "ffprobe", "-v", "error", "-select_streams", "a:0",
		"-show_entries", "packet=pts_time", "-of", "csv=p=0", seg)
	if code != 0 {
		t.Fatalf("ffprobe %s packets: exit %d\n%s", seg, code, out)
	}
	frame := 1 / s.expectedRate
	prev := -1.0
	for _, line := range strings.Fields(out) {
		pts, err := strconv.ParseFloat(strings.TrimSuffix(line, ","), 64)
		if err != nil {
			continue
		}
		if prev >= 0 {
			step := pts - prev
			bad := step > 1.5*frame || step < 0.5*frame
			switch {
			case step > 1.5*frame:
				s.holes++
			case step < 0.5*frame:
				s.overlaps++
			}
			if bad && s.firstStep == "" {
				s.firstStep = fmt.Sprintf("%.3f s -> %.3f s", prev, pts)
			}
		}
		prev = pts
	}
}

// stopShortfall is how much sound a run's last segment may lack at its
// end: what was still in the encoders when the run stopped (the AAC
// encoder gives its frames ~70 ms after the picture of the same time).
const stopShortfall = 150 * time.Millisecond

// checkSegmentSound fails a segment whose sound is missing or has holes: audio
// frames at under minSoundRate of the codec's rate over the picture's
// length (a run's last segment, last, may also lack stopShortfall at its
// end). Segments under a second are only checked for having sound at all.
// tinySegment: a segment this short (one picture at 30 fps) may start no
// AAC frame (21.3 ms) once the sound sits half a frame after the pictures.
const tinySegment = 50 * time.Millisecond

func checkSegmentSound(t *testing.T, seg string, last bool) segmentSound {
	t.Helper()
	s := probeSound(t, seg)
	minRate := minSoundRate
	if last && s.videoDuration > 0 {
		minRate -= stopShortfall.Seconds() / s.videoDuration
	}
	switch {
	case last && s.videoDuration <= stopShortfall.Seconds():
		// A run's last moments: all of its sound was still in the encoders.
	case s.audioFrames == 0 && s.videoDuration < tinySegment.Seconds():
		// One picture long (a run's first keyframe doubled, an open
		// defect): shorter than an AAC frame plus the half output frame
		// the mix's sound is placed after the pictures, it need not hold
		// the start of a sound frame.
		t.Logf("%s: one picture (%.2f s), no sound frame starts in it", seg, s.videoDuration)
	case s.audioFrames == 0:
		t.Errorf("%s: no sound (%.2f s of picture)", seg, s.videoDuration)
	case s.holes+s.overlaps > 0:
		t.Errorf("%s: %d holes and %d overlaps in the sound, the first %s", seg, s.holes, s.overlaps, s.firstStep)
	case s.videoDuration >= 1 && s.rate() < minRate:
		t.Errorf("%s: %s at %.1f frames/s over %.2f s, %.1f%% of the expected %.2f/s", seg, s.codec,
			float64(s.audioFrames)/s.videoDuration, s.videoDuration, 100*s.rate(), s.expectedRate)
	case s.videoDuration >= 1 && s.rate() > 2-minSoundRate:
		// More sound than picture: the composite's pictures fell behind
		// the clock (a machine too busy to composite in real time) while
		// its sound kept up. A known limit, not what this test is about.
		t.Logf("%s: %.1f%% of the expected sound for its picture: the composite fell behind real time", seg, 100*s.rate())
	}
	return s
}

// TestDemoArchivesSound runs the embedded demo as a new user would (no
// config, `serve`) and reads its archive back: every segment of the
// composite carries the session's mixed sound for its whole length, and
// so does every point's. The composite was archived silent once (its
// pictures and sound reached the recorder on different timelines); this
// is the test that would have caught it.
func TestDemoArchivesSound(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts processes")
	}
	dir := t.TempDir()
	httpPort, rtspPort, udpPort := proctest.FreePort(t), proctest.FreePortPair(t), proctest.FreePort(t)
	srv := proctest.StartIn(t, dir, []string{"DIEMCAU_ARCHIVE_SEGMENT=3s", fmt.Sprintf("DIEMCAU_WEBRTC_UDP_PORT=%d", udpPort)},
		binary, "serve", "--http", fmt.Sprintf("127.0.0.1:%d", httpPort), "--rtsp", fmt.Sprintf("127.0.0.1:%d", rtspPort))
	srv.WaitLine(t, "admin token", 60*time.Second)
	composite := filepath.Join(dir, "archive", "demo", "*", "composite", "*.mp4")
	testkit.Eventually(t, 90*time.Second, "four composite segments", func() bool {
		segs, _ := filepath.Glob(composite)
		return len(segs) >= 4
	})
	// Generous: a loaded machine (the whole suite beside it) slows the
	// encoders' flush; TestServeEndToEnd holds the server to 15 s.
	if !srv.Stop(40 * time.Second) {
		t.Fatal("the demo did not stop within 40 s of SIGTERM")
	}
	segs, _ := filepath.Glob(composite)
	points, _ := filepath.Glob(filepath.Join(dir, "archive", "demo", "*", "sources", "*", "*.mp4"))
	for _, seg := range append(segs, points...) {
		s := checkSegmentSound(t, seg, lastOfStream(seg))
		rel, _ := filepath.Rel(dir, seg)
		t.Logf("%s: %s %d frames over %.2f s (%.1f%% of expected)", rel, s.codec, s.audioFrames, s.videoDuration, 100*s.rate())
	}
	if n := strings.Count(srv.Output(), soundJumpWarning); n > 0 {
		t.Errorf("the mix's sound jumped ahead of its clock %d times", n)
	}
}

// soundJumpWarning is the mixer's warning that its sound ran ahead of its
// clock (mixer/soundclock.go): the first seconds of a run's mix lost.
const soundJumpWarning = "composite sound jumped ahead of its clock"

// lastOfStream says whether seg is the last segment of its stream's folder.
func lastOfStream(seg string) bool {
	all, _ := filepath.Glob(filepath.Join(filepath.Dir(seg), "*.mp4"))
	return len(all) > 0 && all[len(all)-1] == seg
}

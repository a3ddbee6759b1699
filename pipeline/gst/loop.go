package gst

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"diemcau/pipeline"
)

// LoopConfig describes a pre-encoded test loop.
type LoopConfig struct {
	TestPicture
	BitrateKbps int
	// Seconds of video. Default 2. Rounded up to whole GOPs of 2*FPS frames,
	// so the loop starts with an IDR and repeats without a broken GOP. With
	// pipeline.PatternAVSync the GOP is one second and the loop whole seconds of
	// whole audio frames (AAC: a multiple of 8 s).
	Seconds int
	// Audio adds a sine tone in that codec; AudioNone for video only.
	Audio AudioCodec
	// AudioFreq is the tone in Hz. Default DefaultAudioFreq (the avsync
	// pattern's beep: DefaultAVSyncFreq). A whole number keeps the sine
	// continuous across loop iterations.
	AudioFreq float64
}

// Validate names the first bad field.
func (c *LoopConfig) Validate() error {
	switch {
	case c.Width <= 0 || c.Width%2 != 0:
		return fmt.Errorf("width: %d, want a positive even number", c.Width)
	case c.Height <= 0 || c.Height%2 != 0:
		return fmt.Errorf("height: %d, want a positive even number", c.Height)
	case c.FPS <= 0 || c.FPS > 120:
		return fmt.Errorf("fps: %d, want 1..120", c.FPS)
	case c.BitrateKbps <= 0:
		return fmt.Errorf("bitrate: %d kbps, want > 0", c.BitrateKbps)
	case c.Seconds < 0:
		return fmt.Errorf("seconds: %d, want >= 0", c.Seconds)
	case c.Audio != AudioNone && c.Audio != AudioOpus && c.Audio != AudioAAC:
		return fmt.Errorf("audio: %q, want opus or aac", c.Audio)
	}
	return nil
}

// Loop is an encoded test signal that can be replayed forever. Frames are
// shared and must not be modified; a replayer makes new Frames (or RTP
// packets) with its own timestamps.
type Loop struct {
	Video *pipeline.Track
	Audio *pipeline.Track // nil without audio
	// VideoFrames are in decode (= presentation) order, PTS = DTS from 0 in
	// steps of FrameDuration; the first is an IDR with SPS and PPS.
	VideoFrames []*pipeline.Frame
	// AudioFrames have PTS from 0 in steps of AudioFrameSamples.
	AudioFrames       []*pipeline.Frame
	FrameDuration     time.Duration
	GOP               int // frames per GOP
	AudioFrameSamples int // at Audio.SampleRate
}

// Duration is the length of the video loop.
func (l *Loop) Duration() time.Duration { return l.FramePTS(int64(len(l.VideoFrames))) }

// FramePTS is the PTS of video frame n of an endless replay (n may exceed
// the loop length); exact, without accumulated rounding.
func (l *Loop) FramePTS(n int64) time.Duration {
	return time.Duration(n * int64(time.Second) / int64(l.Video.FPS))
}

// AudioPTS is the PTS of audio frame n of an endless replay.
func (l *Loop) AudioPTS(n int64) time.Duration {
	return time.Duration(n * int64(l.AudioFrameSamples) * int64(time.Second) / int64(l.Audio.SampleRate))
}

// EncodeLoop encodes the test loop with x264 (and the tone) as fast as the
// machine allows and returns it in Go memory.
func EncodeLoop(ctx context.Context, cfg LoopConfig, log *slog.Logger) (*Loop, error) {
	return encodeLoop(ctx, cfg, true, log)
}

// EncodeToneLoop encodes only the sound of cfg, as long as EncodeLoop's
// loop of the same cfg: a second camera replays the same picture with its
// own tone beside it. Video and VideoFrames are nil.
func EncodeToneLoop(ctx context.Context, cfg LoopConfig, log *slog.Logger) (*Loop, error) {
	if cfg.Audio == AudioNone {
		return nil, errors.New("encode tone loop: audio: none")
	}
	return encodeLoop(ctx, cfg, false, log)
}

// loopPlan is what one loop encode runs and keeps.
type loopPlan struct {
	launch      string
	gop, frames int // video
	// audioSkip coded audio frames are dropped, then audioKeep kept; a
	// zero audioKeep keeps them all.
	audioSkip, audioKeep int
	// pcm, when set, is the sound pushed into the avsyncPCMSource appsrc.
	pcm []byte
}

func planLoop(cfg LoopConfig, withVideo bool) (loopPlan, error) {
	var pl loopPlan
	seconds := cfg.Seconds
	if seconds == 0 {
		seconds = 2
	}
	var video, audio, branches string
	if cfg.Pattern == pipeline.PatternAVSync {
		// One GOP a second, starting at the flash, so a replay can start
		// on any second and keep the pattern's phase.
		seconds = avsyncLoopSeconds(seconds, cfg.Audio)
		pl.gop, pl.frames = cfg.FPS, seconds*cfg.FPS
		if withVideo {
			var vb string
			video, vb = avsyncVideo(cfg.TestPicture, seconds)
			branches += vb
		}
		if cfg.Audio != AudioNone {
			freq := cfg.AudioFreq
			if freq <= 0 {
				freq = DefaultAVSyncFreq
			}
			var err error
			audio, pl.pcm, pl.audioSkip, pl.audioKeep, err = avsyncAudio(cfg.Audio, freq, seconds, aacEncoder(HasElement))
			if err != nil {
				return pl, err
			}
		}
	} else {
		pl.gop = 2 * cfg.FPS
		pl.frames = (seconds*cfg.FPS + pl.gop - 1) / pl.gop * pl.gop
		if withVideo {
			video = videoSource(cfg.TestPicture, pl.frames)
		}
		if cfg.Audio != AudioNone {
			spb := audioFrameSamples(cfg.Audio)
			audioFrames := (pl.frames*audioRate/cfg.FPS + spb - 1) / spb
			var err error
			if audio, err = audioSource(cfg.Audio, cfg.AudioFreq, audioFrames, aacEncoder(HasElement)); err != nil {
				return pl, err
			}
		}
	}
	var parts []string
	if video != "" {
		parts = append(parts, video+" ! "+x264Fragment(pl.gop, cfg.BitrateKbps)+" ! appsink name=video sync=false")
	}
	if audio != "" {
		parts = append(parts, audio+" ! appsink name=audio sync=false")
	}
	pl.launch = strings.Join(parts, " ") + branches
	return pl, nil
}

func encodeLoop(ctx context.Context, cfg LoopConfig, withVideo bool, log *slog.Logger) (*Loop, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("encode loop: %w", err)
	}
	plan, err := planLoop(cfg, withVideo)
	if err != nil {
		return nil, fmt.Errorf("encode loop: %w", err)
	}

	var video, audio []Sample
	var sinks []SinkConfig
	if withVideo {
		sinks = append(sinks, SinkConfig{Name: "video", Lossless: true, OnSample: func(s Sample) { video = append(video, s) }})
	}
	if cfg.Audio != AudioNone {
		sinks = append(sinks, SinkConfig{Name: "audio", Lossless: true, OnSample: func(s Sample) { audio = append(audio, s) }})
	}
	var sources []SourceConfig
	if plan.pcm != nil {
		sources = append(sources, SourceConfig{Name: "apattern", Caps: avsyncPCMCaps, MaxBytes: uint64(2 * len(plan.pcm))})
	}
	run, err := NewRunner(RunnerConfig{Name: "loop-encoder", Launch: plan.launch, Sinks: sinks, Sources: sources}, log)
	if err != nil {
		return nil, err
	}
	ran := make(chan struct{})
	pushed := make(chan error, 1)
	if plan.pcm != nil {
		go func() { pushed <- pushPCM(run, plan.pcm, ran) }()
	} else {
		pushed <- nil
	}
	err = run.Run(ctx)
	close(ran)
	if perr := <-pushed; err == nil && perr != nil {
		err = perr
	}
	if err != nil {
		return nil, fmt.Errorf("encode loop: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("encode loop: %w", err)
	}

	l := &Loop{FrameDuration: time.Second / time.Duration(cfg.FPS), GOP: plan.gop}
	if withVideo {
		if err := l.addVideo(video, cfg.FPS, plan.frames); err != nil {
			return nil, fmt.Errorf("encode loop: %w", err)
		}
	}
	if cfg.Audio != AudioNone {
		if plan.audioKeep > 0 {
			if len(audio) < plan.audioSkip+plan.audioKeep {
				return nil, fmt.Errorf("encode loop: audio encoder gave %d frames, want at least %d", len(audio), plan.audioSkip+plan.audioKeep)
			}
			caps := audio[0].Caps // the appsink gives caps with the first sample only
			audio = audio[plan.audioSkip : plan.audioSkip+plan.audioKeep]
			audio[0].Caps = caps
		}
		if err := l.addAudio(audio, cfg.Audio); err != nil {
			return nil, fmt.Errorf("encode loop: %w", err)
		}
	}
	return l, nil
}

// pushPCM pushes pcm (avsyncPCMCaps) into run's pattern appsrc once the
// pipeline plays, in 20 ms buffers stamped by sample count, then ends the
// stream. It gives up when ran closes (the run ended before it could).
func pushPCM(run *Runner, pcm []byte, ran <-chan struct{}) error {
	select {
	case <-run.Ready():
	case <-ran:
		return nil
	}
	src := run.Source("apattern")
	const chunk = 2 * audioRate / 50
	for off := 0; off < len(pcm); off += chunk {
		end := min(off+chunk, len(pcm))
		pts := time.Duration(off/2) * time.Second / audioRate
		dur := time.Duration((end-off)/2) * time.Second / audioRate
		if !src.Push(pcm[off:end], pts, dur) {
			return fmt.Errorf("pattern sound: buffer at %v refused", pts)
		}
	}
	src.EndOfStream()
	return nil
}

func (l *Loop) addVideo(samples []Sample, fps, want int) error {
	if len(samples) != want {
		return fmt.Errorf("x264 gave %d frames, want %d", len(samples), want)
	}
	l.VideoFrames = make([]*pipeline.Frame, 0, want)
	for i, s := range samples {
		au, err := splitAU(s.Data)
		if err != nil {
			return fmt.Errorf("frame %d: %w", i, err)
		}
		if i == 0 {
			if !au.idr || au.sps == nil || au.pps == nil {
				return errors.New("frame 0 is not an IDR with SPS and PPS")
			}
			if l.Video, err = videoTrack(au.sps, au.pps, fps); err != nil {
				return err
			}
		}
		pts := l.FramePTS(int64(i))
		l.VideoFrames = append(l.VideoFrames, &pipeline.Frame{
			Track: l.Video, PTS: pts, DTS: pts, Key: au.idr, NALUs: au.nalus,
		})
	}
	return nil
}

func (l *Loop) addAudio(samples []Sample, codec AudioCodec) error {
	if len(samples) == 0 {
		return errors.New("audio encoder gave no frames")
	}
	l.AudioFrameSamples = audioFrameSamples(codec)
	tr, err := audioTrack(codec, samples[0].Caps)
	if err != nil {
		return err
	}
	l.Audio = tr
	l.AudioFrames = make([]*pipeline.Frame, 0, len(samples))
	for i, s := range samples {
		pts := l.AudioPTS(int64(i))
		l.AudioFrames = append(l.AudioFrames, &pipeline.Frame{Track: tr, PTS: pts, DTS: pts, Key: true, Payload: s.Data})
	}
	return nil
}

// Fields of AAC caps: the AudioSpecificConfig travels as codec_data.
var (
	capsCodecData = regexp.MustCompile(`codec_data=\(buffer\)([0-9a-fA-F]+)`)
	capsRate      = regexp.MustCompile(`rate=\(int\)(\d+)`)
	capsChannels  = regexp.MustCompile(`channels=\(int\)(\d+)`)
)

// aacCaps reads the AudioSpecificConfig, rate and channels from AAC caps.
func aacCaps(caps string) (asc []byte, rate, channels int, err error) {
	m := capsCodecData.FindStringSubmatch(caps)
	if m == nil {
		return nil, 0, 0, fmt.Errorf("aac caps without codec_data: %q", caps)
	}
	if asc, err = hex.DecodeString(m[1]); err != nil {
		return nil, 0, 0, fmt.Errorf("aac codec_data: %w", err)
	}
	rate, channels = audioRate, 1
	if m := capsRate.FindStringSubmatch(caps); m != nil {
		rate, _ = strconv.Atoi(m[1])
	}
	if m := capsChannels.FindStringSubmatch(caps); m != nil {
		channels, _ = strconv.Atoi(m[1])
	}
	return asc, rate, channels, nil
}

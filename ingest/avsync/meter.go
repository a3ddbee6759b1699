package avsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"diemcau/ingest"
)

// ErrOpen is wrapped by Measure's error when the input could not be
// reached, opened or decoded at all: `probe --av` exits 2 then.
var ErrOpen = errors.New("could not open")

// Kinds of input.
const (
	KindRTSP = "rtsp"
	KindWHEP = "whep"
	KindFile = "file"
)

// Defaults and bounds of Options.Seconds.
const (
	DefaultSeconds = 10.0
	MaxSeconds     = 600.0
	// liveWarmup is read and dropped at the start of a live read. Over
	// RTSP ffmpeg stamps each track's first packets on that track's own
	// clock until the tracks are synchronised (RTP-Info, then sender
	// reports), so the first frames can sit anywhere; over WHEP the
	// picture starts at the last keyframe, before the sound.
	liveWarmup = time.Second
	// connectBudget is added to the media time for the wall-clock bound of
	// a live read: connecting, the first keyframe, ICE.
	connectBudget = 20 * time.Second
)

// Options of a measurement. Zero fields take the defaults.
type Options struct {
	// Seconds of media to read. Default DefaultSeconds for live inputs and
	// the whole file (up to MaxSeconds) for files.
	Seconds float64
	// Token is the WHEP bearer token (an operator or invite token).
	Token string
	// FFmpeg and FFprobe are the binaries. Default "ffmpeg", "ffprobe".
	FFmpeg, FFprobe string
	// Log gets the WHEP client's connection events; nil: none.
	Log *slog.Logger
	// Warmup is read and dropped at the start of a live read, before the
	// Seconds measured. Default (0) one second. A diemcau RTSP output
	// needs 11 s to be measured as players see it for good: gortsplib's
	// server sends its first sender report 10 s into a read, and until
	// then ffmpeg lines the tracks up by RTP-Info, which that server
	// derives from each track's last frame time as if it were the wall
	// clock. A WHEP composite needs its keyframe interval (the picture
	// starts at the last keyframe, the sound at the connection).
	Warmup time.Duration
}

// Validate names the first bad field.
func (o *Options) Validate() error {
	if o.Seconds < 0 || o.Seconds > MaxSeconds {
		return fmt.Errorf("seconds: %v, want 0 (the default) to %v", o.Seconds, MaxSeconds)
	}
	if o.Warmup < 0 || o.Warmup > time.Duration(MaxSeconds)*time.Second {
		return fmt.Errorf("warmup: %v, want 0 to %v s", o.Warmup, MaxSeconds)
	}
	return nil
}

// ready is opts validated, with the binaries' and the log's defaults.
func (o Options) ready() (Options, error) {
	if err := o.Validate(); err != nil {
		return o, err
	}
	if o.FFmpeg == "" {
		o.FFmpeg = "ffmpeg"
	}
	if o.FFprobe == "" {
		o.FFprobe = "ffprobe"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// KindOf tells what target is: rtsp:// and rtsps:// are RTSP, http(s)://
// a WHEP endpoint, anything else a file.
func KindOf(target string) string {
	switch scheme, _, _ := strings.Cut(target, "://"); strings.ToLower(scheme) {
	case "rtsp", "rtsps":
		return KindRTSP
	case "http", "https":
		return KindWHEP
	}
	return KindFile
}

// Measure reads target (an RTSP URL with any credentials in it, a WHEP
// endpoint, or a file) and analyses it. The error wraps ErrOpen when the
// target could not be read at all; the report is then the verdict-less
// shell naming it. Credentials never appear in the report or the error.
func Measure(ctx context.Context, target string, opts Options) (Report, error) {
	opts, err := opts.ready()
	if err != nil {
		return Report{}, err
	}
	kind := KindOf(target)
	shown := ingest.RedactURL(target)
	fail := func(err error) (Report, error) {
		msg := ingest.RedactError(err, target)
		if len(opts.Token) >= 8 { // a real token; a short one would mask words
			msg = strings.ReplaceAll(msg, opts.Token, "***")
		}
		re := redactedError{msg: shown + ": " + msg}
		if errors.Is(err, ErrOpen) {
			re.cause = ErrOpen
		}
		return Report{Input: shown, Kind: kind, Verdict: Fail, Reasons: []string{msg}, Points: []PointOffset{}}, re
	}

	seconds := opts.Seconds
	if seconds == 0 && kind != KindFile {
		seconds = DefaultSeconds
	}
	warmup := liveWarmup
	if opts.Warmup > 0 {
		warmup = opts.Warmup
	}
	var c Capture
	switch kind {
	case KindFile:
		if _, serr := os.Stat(target); serr != nil {
			return fail(fmt.Errorf("%w: %v", ErrOpen, serr))
		}
		c, err = decodeInput(ctx, opts, target, kind, seconds, time.Duration(MaxSeconds)*time.Second)
	case KindRTSP:
		c, err = decodeInput(ctx, opts, target, kind, seconds+warmup.Seconds(), time.Duration(seconds*float64(time.Second))+warmup+connectBudget)
		c = c.after(warmup)
	case KindWHEP:
		c, err = measureWHEP(ctx, opts, target, seconds+warmup.Seconds())
		c = c.after(warmup)
	}
	if err != nil {
		return fail(err)
	}
	rep := Analyze(c)
	rep.Input, rep.Kind = shown, kind
	return rep, nil
}

// decodeInput probes and decodes a file or RTSP URL with ffmpeg.
func decodeInput(ctx context.Context, opts Options, input, kind string, seconds float64, deadline time.Duration) (Capture, error) {
	pctx, cancel := context.WithTimeout(ctx, connectBudget)
	d, err := probeStreams(pctx, opts.FFprobe, input, kind)
	cancel()
	if err != nil {
		return Capture{}, err
	}
	if kind == KindFile && seconds == 0 {
		seconds = MaxSeconds // a longer file is measured over its start
	}
	return decode(ctx, opts.FFmpeg, input, kind, d, seconds, deadline)
}

// measureWHEP receives the WHEP stream into a temporary MP4 (both tracks
// on the sender reports' clock) and decodes that like a file.
func measureWHEP(ctx context.Context, opts Options, endpoint string, seconds float64) (Capture, error) {
	dir, err := os.MkdirTemp("", "diemcau-avsync")
	if err != nil {
		return Capture{}, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "whep.mp4")
	clock, err := captureWHEP(ctx, opts, endpoint, time.Duration(seconds*float64(time.Second)), file)
	if err != nil {
		return Capture{}, err
	}
	c, err := decodeInput(ctx, opts, file, KindFile, 0, time.Duration(MaxSeconds)*time.Second)
	c.Clock = clock
	return c, err
}

// redactedError is an error whose text had its credentials masked; it
// still answers errors.Is(err, ErrOpen).
type redactedError struct {
	msg   string
	cause error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.cause }

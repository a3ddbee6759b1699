package avsync

import (
	"context"
	"fmt"
	"os"
	"time"
)

// DecodeFile decodes a media file as the meter does (ffmpeg: the picture
// to GridW×GridH luma, the sound to mono PCM at AudioRate, both with their
// presentation times) and returns the capture without analysing it, for a
// caller that looks for the pattern in its own way: the bench times when a
// flash reached a viewer from a file whose timestamps are arrival times.
// Options.Seconds bounds the media read (0: the whole file, up to
// MaxSeconds).
func DecodeFile(ctx context.Context, file string, opts Options) (Capture, error) {
	opts, err := opts.ready()
	if err != nil {
		return Capture{}, err
	}
	if _, err := os.Stat(file); err != nil {
		return Capture{}, fmt.Errorf("%w: %v", ErrOpen, err)
	}
	return decodeInput(ctx, opts, file, KindFile, opts.Seconds, time.Duration(MaxSeconds)*time.Second)
}

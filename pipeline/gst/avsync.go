package gst

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"
)

// AVSyncBeep is the length of the pattern's beep.
const AVSyncBeep = 100 * time.Millisecond

const (
	avsyncBeepSamples = audioRate / 10
	avsyncVolume      = 0.5 // −6 dBFS peak: loud against the silence, far from clipping
	// The ball is grey (luma ~80), not white, so its motion never looks
	// like a flash to a meter that watches for a jump to white.
	avsyncDark = "videotestsrc pattern=ball foreground-color=0xff505050 background-color=0xff000000"
)

// AVSyncFlashFrames is how many frames the picture stays white each second:
// about 100 ms, at least one frame.
func AVSyncFlashFrames(fps int) int { return max(1, (fps+5)/10) }

// avsyncLoopSeconds rounds a loop's length up so that it is whole seconds
// (the pattern's period) made of whole coded audio frames: any length for
// Opus (20 ms frames), a multiple of 8 s for AAC (1024-sample frames: 8 s is
// the first whole number of them at 48 kHz).
func avsyncLoopSeconds(seconds int, codec AudioCodec) int {
	seconds = max(seconds, 1)
	if codec == AudioAAC {
		seconds = (seconds + 7) / 8 * 8
	}
	return seconds
}

// encoderLead is how many samples a decoder's output lags the encoder's
// input when nothing trims the encoder delay: RTP carries no pre-skip, so
// browsers, ffmpeg and GStreamer reading RTSP or WebRTC play the lookahead
// (Opus: 2.5 ms + 4 ms at 48 kHz) or the priming frame (AAC) first. The
// pattern puts its beeps that much early in the encoder's input so that
// they decode on the second.
func encoderLead(codec AudioCodec) int {
	if codec == AudioAAC {
		return 1024
	}
	return 312
}

// avsyncVideo is the pattern's picture for seconds seconds: a concat of a
// white flash and the dark ball for each second. chain feeds the encoder;
// branches go at the end of the launch line.
func avsyncVideo(p TestPicture, seconds int) (chain, branches string) {
	caps := fmt.Sprintf("video/x-raw,width=%d,height=%d,framerate=%d/1", p.Width, p.Height, p.FPS)
	flash := AVSyncFlashFrames(p.FPS)
	var b strings.Builder
	for range seconds {
		fmt.Fprintf(&b, " videotestsrc num-buffers=%d pattern=white ! %s ! vpattern.", flash, caps)
		if p.FPS > flash {
			fmt.Fprintf(&b, " %s num-buffers=%d ! %s ! vpattern.", avsyncDark, p.FPS-flash, caps)
		}
	}
	chain = "concat name=vpattern ! " + caps + overlays(p)
	return chain, b.String()
}

// avsyncAudio is the pattern's sound for a loop of seconds seconds, coded
// as codec. The encoder first runs on a second or so of the same periodic
// signal, so the kept frames decode as steady state across the loop's
// seam: skip frames are dropped, then keep frames are the loop. The input's
// beeps are placed so that, after the encoder's lead, they decode exactly
// on each second of the kept frames.
//
// The signal is made here as PCM and pushed through one appsrc (pcm, with
// caps pcmCaps): an earlier launch line of one audiotestsrc per beep and
// per silence, joined by concat and audiomixer, started ~20 streaming
// threads per tone and once failed to reach PAUSED, with no error posted,
// on a loaded CI machine.
func avsyncAudio(codec AudioCodec, freq float64, seconds int, aacElement string) (chain string, pcm []byte, skip, keep int, err error) {
	enc, err := audioEncoder(codec, aacElement)
	if err != nil {
		return "", nil, 0, 0, err
	}
	spb := audioFrameSamples(codec)
	if seconds*audioRate%spb != 0 {
		return "", nil, 0, 0, fmt.Errorf("audio %q: %d s is not whole %d-sample frames", codec, seconds, spb)
	}
	keep = seconds * audioRate / spb
	skip = (audioRate + spb - 1) / spb
	lead := encoderLead(codec)
	// First beep in the input: output frame skip starts a second.
	phase := ((skip*spb-lead)%audioRate + audioRate) % audioRate
	need := (skip+keep+2)*spb + lead // enough input for the kept frames and the encoder's flush
	periods := (need - phase + audioRate - 1) / audioRate
	pcm = avsyncPCM(freq, phase, periods)
	return avsyncPCMSource + " ! audioconvert ! " + enc, pcm, skip, keep, nil
}

// avsyncPCMSource is the appsrc avsyncAudio's PCM goes into.
const avsyncPCMSource = "appsrc name=apattern"

// avsyncPCMCaps are the caps of avsyncPCM's samples.
var avsyncPCMCaps = fmt.Sprintf("audio/x-raw,format=S16LE,layout=interleaved,rate=%d,channels=1", audioRate)

// avsyncPCM is phase samples of silence, then periods seconds that each
// start with a beep of freq (from sine phase 0, as every beep) and are
// silent after it: mono S16LE at audioRate.
func avsyncPCM(freq float64, phase, periods int) []byte {
	n := phase + periods*audioRate
	pcm := make([]byte, 2*n)
	amp := avsyncVolume * math.MaxInt16
	for p := range periods {
		at := phase + p*audioRate
		for i := range avsyncBeepSamples {
			v := int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/audioRate)))
			binary.LittleEndian.PutUint16(pcm[2*(at+i):], uint16(v))
		}
	}
	return pcm
}

// DefaultAVSyncFreq is the pattern's beep when LoopConfig.AudioFreq is 0:
// the 1 kHz line-up tone.
const DefaultAVSyncFreq = 1000

package avsync

import (
	"math"
	"math/rand/v2"
	"time"
)

// Synthetic media for the meter's unit tests: sound and pictures built
// sample by sample, so every onset is known exactly.

// tone is a sine burst: hz, from at (sample-exact), lasting dur, at amp.
type tone struct {
	hz   float64
	at   time.Duration
	dur  time.Duration
	amp  float64
	cont bool // continuous: the whole signal
}

// synthPCM is seconds of sound at AudioRate with the tones and noise (RMS).
func synthPCM(seconds float64, noise float64, tones ...tone) []float64 {
	n := int(seconds * AudioRate)
	x := make([]float64, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = noise * rng.NormFloat64()
	}
	for _, t := range tones {
		a, b := durSamples(t.at), durSamples(t.at+t.dur)
		if t.cont {
			a, b = 0, n
		}
		for i := max(a, 0); i < min(b, n); i++ {
			x[i] += t.amp * math.Sin(2*math.Pi*t.hz*float64(i-a)/AudioRate)
		}
	}
	return x
}

// chunksOf cuts sound into frames of frame samples, from start.
func chunksOf(x []float64, frame int, start time.Duration) []Chunk {
	var out []Chunk
	for off := 0; off < len(x); off += frame {
		end := min(off+frame, len(x))
		s := make([]int16, end-off)
		for i := range s {
			s[i] = int16(max(-32768, min(32767, math.Round(x[off+i]*32768))))
		}
		out = append(out, Chunk{PTS: start + samplesDur(off), Samples: s})
	}
	return out
}

// beepsEvery are pattern beeps at every second from first, shifted by
// shift, for seconds.
func beepsEvery(hz float64, first, shift time.Duration, seconds int) []tone {
	var out []tone
	for s := range seconds {
		at := first + shift + time.Duration(s)*time.Second
		if at >= 0 {
			out = append(out, tone{hz: hz, at: at, dur: 100 * time.Millisecond, amp: 0.5})
		}
	}
	return out
}

// picture is a uniform grid with one rectangle of cells set to v.
func picture(pts time.Duration, bg uint8, x0, y0, x1, y1 int, v uint8) Picture {
	l := make([]uint8, GridW*GridH)
	for i := range l {
		l[i] = bg
		if x, y := i%GridW, i/GridW; x >= x0 && x < x1 && y >= y0 && y < y1 {
			l[i] = v
		}
	}
	return Picture{PTS: pts, Luma: l}
}

// patternPictures are fps pictures a second for seconds: dark with a grey
// ball that moves each frame, white in rect for the first frames of each
// second from first.
func patternPictures(fps, seconds int, first time.Duration, rect [4]int) []Picture {
	var out []Picture
	flash := max(1, (fps+5)/10)
	for n := range fps * seconds {
		pts := first + time.Duration(n)*time.Second/time.Duration(fps)
		ball := n % GridW
		p := picture(pts, 0, ball, GridH-2, ball+1, GridH, 80)
		if n%fps < flash {
			p = picture(pts, 0, rect[0], rect[1], rect[2], rect[3], 255)
		}
		out = append(out, p)
	}
	return out
}

var whole = [4]int{0, 0, GridW, GridH}

package avsync

import (
	"math"
	"slices"
	"time"
)

// run is contiguous sound: sample i is at start + i/AudioRate.
type run struct {
	start time.Duration
	x     []float32 // -1 … 1
}

func (r run) end() time.Duration { return r.start + samplesDur(len(r.x)) }

func samplesDur(n int) time.Duration {
	return time.Duration(int64(n) * int64(time.Second) / AudioRate)
}

func durSamples(d time.Duration) int { return int(int64(d) * AudioRate / int64(time.Second)) }

// joinTolerance is how far a frame may start from where the previous one
// ended and still continue it: containers round timestamps (Matroska to
// the millisecond), decoders do not.
const joinTolerance = 2 * time.Millisecond

// joinChunks lays decoded frames end to end into runs of contiguous sound
// and returns the typical frame duration. A frame that starts away from
// where the previous one ended begins a new run, so a hole (or an overlap)
// never smears the samples' times.
func joinChunks(chunks []Chunk) (runs []run, frame time.Duration) {
	durs := make([]time.Duration, 0, len(chunks))
	for _, c := range chunks {
		if len(c.Samples) == 0 {
			continue
		}
		durs = append(durs, samplesDur(len(c.Samples)))
		if n := len(runs); n > 0 {
			if d := c.PTS - runs[n-1].end(); d >= -joinTolerance && d <= joinTolerance {
				runs[n-1].x = appendPCM(runs[n-1].x, c.Samples)
				continue
			}
		}
		runs = append(runs, run{start: c.PTS, x: appendPCM(nil, c.Samples)})
	}
	return runs, median(durs)
}

func appendPCM(x []float32, s []int16) []float32 {
	for _, v := range s {
		x = append(x, float32(v)/32768)
	}
	return x
}

// audioHoles are the stretches of [from, to) without sound longer than
// min: between runs, and before the first and after the last.
func audioHoles(runs []run, from, to, min time.Duration) []Gap {
	var holes []Gap
	at := from
	for _, r := range runs {
		if r.start-at > min {
			holes = append(holes, gapOf(at, r.start, from))
		}
		at = max(at, r.end())
	}
	if to-at > min {
		holes = append(holes, gapOf(at, to, from))
	}
	return holes
}

func gapOf(a, b, origin time.Duration) Gap {
	return Gap{At: round3((a - origin).Seconds()), Duration: round1(ms(b - a))}
}

// samplesWithin counts the samples of runs inside [from, to).
func samplesWithin(runs []run, from, to time.Duration) int64 {
	var n int64
	for _, r := range runs {
		a := max(0, durSamples(from-r.start))
		b := min(len(r.x), durSamples(to-r.start))
		if b > a {
			n += int64(b - a)
		}
	}
	return n
}

// levels are the peak and RMS of every sample, in dBFS (a full-scale sine
// has RMS -3 dBFS; digital silence reads -120).
func levels(runs []run) (peak, rms float64) {
	var sum float64
	var n int
	var pk float32
	for _, r := range runs {
		for _, v := range r.x {
			sum += float64(v) * float64(v)
			pk = max(pk, v, -v)
		}
		n += len(r.x)
	}
	if n == 0 {
		return -120, -120
	}
	return dBFS(float64(pk)), dBFS(math.Sqrt(sum / float64(n)))
}

func dBFS(a float64) float64 {
	if a <= 1e-6 {
		return -120
	}
	return round1(20 * math.Log10(a))
}

func median[T int64 | float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// round1 and round3 round for the report; a negative zero reads 0.
func round1(v float64) float64 { return math.Round(v*10)/10 + 0 }
func round3(v float64) float64 { return math.Round(v*1000)/1000 + 0 }

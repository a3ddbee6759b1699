package avsync

import (
	"cmp"
	"math"
	"math/cmplx"
	"slices"
	"time"
)

// beep is one beep's onset, its tone and its level (amplitude, 0…1).
type beep struct {
	at    time.Duration
	hz    float64
	level float64
}

const (
	welchN     = 4096 // 85 ms blocks: 11.7 Hz bins
	minToneHz  = 100
	maxToneHz  = 8000
	maxTones   = 16
	minToneGap = 40.0 // Hz: closer peaks are one tone
	// toneFloor is the least beep amplitude taken for a beep (−54 dBFS).
	toneFloor = 0.002
	// demodLen is the tone meter's window: 10 ms, whose box filter has
	// its nulls every 100 Hz, the spacing of camsim's tones, so beeps
	// sounding together in a mix do not leak into each other.
	demodLen = 480
	// envHop is the tone envelope's step in samples (1/6 ms); the onset is
	// interpolated between steps, the envelope being linear on a rise.
	envHop = 8
)

// Beep shape: a beep is quiet before, then at least minBeep and at most
// maxBeep at its level. Speech and music seldom look like that.
const (
	minBeep = 40 * time.Millisecond
	maxBeep = 250 * time.Millisecond
)

// findBeeps finds the tones that sound in runs, then each tone's onsets.
func findBeeps(runs []run) []beep {
	var out []beep
	for _, hz := range findTones(runs) {
		for _, r := range runs {
			for _, b := range toneOnsets(r, hz) {
				b.hz = hz
				out = append(out, b)
			}
		}
	}
	slices.SortFunc(out, func(a, b beep) int { return cmp.Compare(a.at, b.at) })
	return dropEchoes(out)
}

// Echo tones: a loud beep in a lossy codec, or beeps clipping in a mix,
// leave weaker peaks at other frequencies that start with it. A tone whose
// beeps nearly all start with a beep of a tone echoLevel louder is one.
const (
	echoLevel  = 4.0 // 12 dB
	echoWindow = 3 * time.Millisecond
)

func dropEchoes(bs []beep) []beep {
	byTone := map[float64][]beep{}
	for _, b := range bs {
		byTone[b.hz] = append(byTone[b.hz], b)
	}
	level := func(t []beep) float64 {
		v := make([]float64, len(t))
		for i, b := range t {
			v[i] = b.level
		}
		return median(v)
	}
	echo := map[float64]bool{}
	for hz, t := range byTone {
		for other, o := range byTone {
			if other == hz || level(o) < echoLevel*level(t) {
				continue
			}
			with := 0
			for _, b := range t {
				if slices.ContainsFunc(o, func(x beep) bool { return absDur(x.at-b.at) <= echoWindow }) {
					with++
				}
			}
			if 5*with >= 4*len(t) {
				echo[hz] = true
			}
		}
	}
	return slices.DeleteFunc(bs, func(b beep) bool { return echo[b.hz] })
}

// findTones returns the strongest narrow peaks of the sound's averaged
// spectrum (Welch, Hann windows, half overlap), strongest first: the beeps
// of a pattern are pure tones.
func findTones(runs []run) []float64 {
	power := make([]float64, welchN/2+1)
	buf := make([]complex128, welchN)
	win := make([]float64, welchN)
	for i := range win {
		win[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/welchN)
	}
	blocks := 0
	for _, r := range runs {
		for off := 0; off+welchN <= len(r.x); off += welchN / 2 {
			for i := range buf {
				buf[i] = complex(float64(r.x[off+i])*win[i], 0)
			}
			fft(buf)
			for k := range power {
				power[k] += real(buf[k])*real(buf[k]) + imag(buf[k])*imag(buf[k])
			}
			blocks++
		}
	}
	if blocks == 0 {
		return nil
	}
	lo, hi := minToneHz*welchN/AudioRate, maxToneHz*welchN/AudioRate
	top := slices.Max(power[lo:hi])
	// A Hann-windowed sine of amplitude A peaks at (A·N/4)²; a beep that
	// sounds a tenth of the time averages a tenth of that.
	floor := math.Pow(toneFloor*welchN/4, 2) * float64(blocks) / 10
	type peak struct{ hz, p float64 }
	var peaks []peak
	for k := lo + 2; k < hi-2; k++ {
		p := power[k]
		if p < top*1e-3 || p < floor || p <= power[k-1] || p < power[k+1] || p <= power[k-2] || p < power[k+2] {
			continue
		}
		a, b, c := math.Log(power[k-1]+1e-30), math.Log(p), math.Log(power[k+1]+1e-30)
		delta := 0.0
		if d := a - 2*b + c; d < 0 {
			delta = 0.5 * (a - c) / d
		}
		peaks = append(peaks, peak{hz: (float64(k) + delta) * AudioRate / welchN, p: p})
	}
	slices.SortFunc(peaks, func(a, b peak) int { return cmp.Compare(b.p, a.p) })
	var tones []float64
	for _, pk := range peaks {
		near := slices.ContainsFunc(tones, func(hz float64) bool { return math.Abs(hz-pk.hz) < minToneGap })
		if !near && len(tones) < maxTones {
			tones = append(tones, pk.hz)
		}
	}
	return tones
}

// toneEnvelope is the amplitude of the tone hz over the trailing demodLen
// samples, every envHop samples: value j is for the window ending at
// sample (j+1)·envHop. A tone starting at s rises linearly from s to
// s+demodLen, so its half-way point is s + demodLen/2.
func toneEnvelope(x []float32, hz float64) []float32 {
	w := 2 * math.Pi * hz / AudioRate
	step := cmplx.Rect(1, -w)
	back := cmplx.Rect(1, w*demodLen) // e^{-iw(n-L)} = e^{-iwn}·e^{iwL}
	ph := complex(1, 0)
	var sum complex128
	env := make([]float32, 0, len(x)/envHop)
	for n := range x {
		v := complex(float64(x[n]), 0)
		if n >= demodLen {
			v -= complex(float64(x[n-demodLen]), 0) * back
		}
		sum += v * ph
		ph *= step
		if n%4096 == 0 {
			ph /= complex(cmplx.Abs(ph), 0) // keep the phasor on the unit circle
		}
		if (n+1)%envHop == 0 {
			a := 0.0
			if n+1 >= demodLen {
				a = 2 * cmplx.Abs(sum) / demodLen
			}
			env = append(env, float32(a))
		}
	}
	return env
}

// toneOnsets finds the beeps of tone hz in one run, each onset to a
// fraction of a millisecond: the half-way point of the envelope's rise
// between the quiet before and the beep's level, less half the window.
func toneOnsets(r run, hz float64) []beep {
	env := toneEnvelope(r.x, hz)
	if len(env) == 0 {
		return nil
	}
	ref := percentile(env, 0.995)
	if ref < toneFloor {
		return nil
	}
	hop := func(d time.Duration) int { return durSamples(d) / envHop }
	// sampleAt is the end of the window of envelope value j (fractional).
	sampleAt := func(j float64) float64 { return (j + 1) * envHop }
	var out []beep
	thr := float32(0.3 * ref)
	for j := 1; j < len(env); j++ {
		if env[j-1] >= thr || env[j] < thr {
			continue
		}
		before, after := j-hop(70*time.Millisecond), j+hop(60*time.Millisecond)
		if before < demodLen/envHop || after >= len(env) {
			continue // too near the run's edges to see the quiet and the level
		}
		base := percentile(env[before:j-hop(20*time.Millisecond)], 0.5)
		level := percentile(env[j+hop(15*time.Millisecond):after], 0.5)
		if level < toneFloor || base > level/4 {
			continue
		}
		half := (base + level) / 2
		k := j - hop(20*time.Millisecond)
		for k < j+hop(20*time.Millisecond) && !(env[k] < half && env[k+1] >= half) {
			k++
		}
		if env[k] >= half || env[k+1] < half {
			continue
		}
		cross := sampleAt(float64(k) + float64((half-env[k])/(env[k+1]-env[k])))
		onset := cross - demodLen/2
		// The beep must end: past its rise (where beeps sounding with it
		// in a mix still leak in), the envelope falls back below half.
		end := max(k+1, j+hop(20*time.Millisecond))
		for end < len(env) && env[end] >= half {
			end++
		}
		if end == len(env) {
			break
		}
		d := samplesDur(int(sampleAt(float64(end)) - demodLen/2 - onset))
		j = end
		if d < minBeep || d > maxBeep {
			continue
		}
		onset = refineOnset(r.x, onset)
		out = append(out, beep{at: r.start + time.Duration(onset*float64(time.Second)/AudioRate), level: float64(level)})
	}
	return out
}

// Onset refinement on the sound's energy, whatever its tone.
const (
	// energyWin is 10 ms: a whole beat of tones 100 Hz apart (camsim's
	// cameras beeping together), whose summed energy then rises smoothly.
	energyWin = 480
	// refineRise is the least rise in energy the refinement trusts: a
	// beep well under other sound keeps its tone meter's onset.
	refineRise = 2.0
)

// refineOnset moves an onset found by a tone meter (good to a couple of
// ms, less where beeps of other tones start at the same moment and leak
// into it) to the half-way point of the energy's rise around it: a step
// in energy is where the beep starts, and beeps that start together make
// one step. at is a sample index in x.
func refineOnset(x []float32, at float64) float64 {
	a := int(at)
	from, to := a-durSamples(30*time.Millisecond), a+durSamples(30*time.Millisecond)
	if from-energyWin < 0 || to > len(x) {
		return at
	}
	// msq[i] is the mean square of the energyWin samples before from+i.
	msq := make([]float64, to-from)
	var sum float64
	for n := from - energyWin; n < from; n++ {
		sum += float64(x[n]) * float64(x[n])
	}
	for i := range msq {
		msq[i] = sum / energyWin
		n := from + i
		sum += float64(x[n])*float64(x[n]) - float64(x[n-energyWin])*float64(x[n-energyWin])
	}
	idx := func(d time.Duration) int { return a - from + durSamples(d) }
	base := median(msq[idx(-25*time.Millisecond):idx(-5*time.Millisecond)])
	level := median(msq[idx(15*time.Millisecond):idx(28*time.Millisecond)])
	if level < refineRise*base || level < toneFloor*toneFloor/2 {
		return at
	}
	half := (base + level) / 2
	for i := idx(-5 * time.Millisecond); i < idx(15*time.Millisecond); i++ {
		if msq[i] < half && msq[i+1] >= half {
			cross := float64(from+i) + (half-msq[i])/(msq[i+1]-msq[i])
			return cross - energyWin/2
		}
	}
	return at
}

func percentile(v []float32, p float64) float32 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// fft is an in-place radix-2 FFT; len(a) is a power of two.
func fft(a []complex128) {
	n := len(a)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		w := cmplx.Rect(1, -2*math.Pi/float64(size))
		for start := 0; start < n; start += size {
			t := complex(1, 0)
			for k := range size / 2 {
				u, v := a[start+k], a[start+k+size/2]*t
				a[start+k], a[start+k+size/2] = u+v, u-v
				t *= w
			}
		}
	}
}

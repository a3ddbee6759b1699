package avsync

import (
	"math"
	"slices"
	"testing"
	"time"
)

// onset is a beep's expected start and tone.
type onset struct {
	at time.Duration
	hz float64
}

func TestFindBeeps(t *testing.T) {
	const s = time.Second
	ms := time.Millisecond
	tests := []struct {
		name  string
		pcm   []float64
		start time.Duration // PTS of the first sample
		want  []onset       // onsets and tones (tones to within 5 Hz)
	}{
		{
			name: "1 kHz pattern beeps",
			pcm:  synthPCM(3.5, 0, beepsEvery(1000, 500*ms, 0, 3)...),
			want: []onset{{500 * ms, 1000}, {1500 * ms, 1000}, {2500 * ms, 1000}},
		},
		{
			name:  "200 Hz, the lowest sim tone, on a timeline that starts at 10 s",
			pcm:   synthPCM(2.5, 0, beepsEvery(200, 300*ms+7*time.Microsecond*21, 0, 2)...),
			start: 10 * s,
			want:  []onset{{10*s + 300*ms + 147*time.Microsecond, 200}, {11*s + 300*ms + 147*time.Microsecond, 200}},
		},
		{
			name: "under another point's steady tone",
			pcm:  synthPCM(2.5, 0, append(beepsEvery(1200, 400*ms, 0, 2), tone{hz: 440, amp: 0.3, cont: true})...),
			want: []onset{{400 * ms, 1200}, {1400 * ms, 1200}},
		},
		{
			name: "in noise at -40 dBFS",
			pcm:  synthPCM(2.5, 0.01, beepsEvery(1500, 600*ms, 0, 2)...),
			want: []onset{{600 * ms, 1500}, {1600 * ms, 1500}},
		},
		{
			name: "two points 30 ms apart in one mix",
			pcm:  synthPCM(2.5, 0, append(beepsEvery(1000, 500*ms, 0, 2), beepsEvery(1100, 530*ms, 0, 2)...)...),
			want: []onset{{500 * ms, 1000}, {530 * ms, 1100}, {1500 * ms, 1000}, {1530 * ms, 1100}},
		},
		{
			name: "a faint echo of a beep at another tone is dropped (codec, clipping)",
			pcm: synthPCM(2.5, 0, append(beepsEvery(1000, 500*ms, 0, 2),
				tone{hz: 1810, at: 500 * ms, dur: 100 * ms, amp: 0.02}, tone{hz: 1810, at: 1500 * ms, dur: 100 * ms, amp: 0.02})...),
			want: []onset{{500 * ms, 1000}, {1500 * ms, 1000}},
		},
		{
			name: "a steady tone has no beeps",
			pcm:  synthPCM(2, 0, tone{hz: 1000, amp: 0.5, cont: true}),
		},
		{
			name: "half-second bursts are not beeps",
			pcm:  synthPCM(3, 0, tone{hz: 1000, at: 500 * ms, dur: 500 * ms, amp: 0.5}, tone{hz: 1000, at: 1500 * ms, dur: 500 * ms, amp: 0.5}),
		},
		{
			name: "beeps below -54 dBFS are not taken",
			pcm:  synthPCM(2.5, 0, tone{hz: 1000, at: 500 * ms, dur: 100 * ms, amp: 0.001}, tone{hz: 1000, at: 1500 * ms, dur: 100 * ms, amp: 0.001}),
		},
		{name: "silence", pcm: make([]float64, AudioRate)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runs, _ := joinChunks(chunksOf(tc.pcm, 960, tc.start))
			got := findBeeps(runs)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d beeps %v, want %d %v", len(got), got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if d := got[i].at - w.at; d < -500*time.Microsecond || d > 500*time.Microsecond {
					t.Errorf("beep %d: onset %v, want %v (off by %v)", i, got[i].at, w.at, d)
				}
				if math.Abs(got[i].hz-w.hz) > 5 {
					t.Errorf("beep %d: tone %.1f Hz, want %.0f", i, got[i].hz, w.hz)
				}
			}
		})
	}
}

func TestFindTonesOfACamsimMix(t *testing.T) {
	// Four cameras beeping together, 100 Hz apart: four tones.
	var tones []tone
	for i := range 4 {
		for _, b := range beepsEvery(1000+100*float64(i), 200*time.Millisecond, 0, 3) {
			b.amp = 0.2 // the four add up to 0.8: a mix does not clip
			tones = append(tones, b)
		}
	}
	runs, _ := joinChunks(chunksOf(synthPCM(3, 0, tones...), 960, 0))
	got := findTones(runs)
	slices.Sort(got)
	if len(got) != 4 {
		t.Fatalf("tones %v, want 4", got)
	}
	for i, hz := range got {
		if want := 1000 + 100*float64(i); math.Abs(hz-want) > 3 {
			t.Errorf("tone %d: %.1f Hz, want %.0f", i, hz, want)
		}
	}
	b := findBeeps(runs)
	if len(b) != 12 {
		t.Fatalf("beeps: %d, want 12 (4 tones × 3 s)", len(b))
	}
	for _, x := range b {
		want := x.at.Round(time.Second) + 200*time.Millisecond
		if x.at < time.Second/2 {
			want = 200 * time.Millisecond
		}
		if d := x.at - want; d < -500*time.Microsecond || d > 500*time.Microsecond {
			t.Errorf("%.0f Hz beep at %v, want %v", x.hz, x.at, want)
		}
	}
}

func TestFFT(t *testing.T) {
	a := make([]complex128, 64)
	for i := range a {
		a[i] = complex(math.Cos(2*math.Pi*5*float64(i)/64), 0)
	}
	fft(a)
	for k, v := range a {
		want := 0.0
		if k == 5 || k == 59 {
			want = 32
		}
		if math.Abs(real(v)-want) > 1e-9 || math.Abs(imag(v)) > 1e-9 {
			t.Fatalf("bin %d: %v, want %v", k, v, want)
		}
	}
}

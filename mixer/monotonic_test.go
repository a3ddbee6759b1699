package mixer

import (
	"testing"
	"time"
)

func TestMonotonic(t *testing.T) {
	const f = 100 * time.Millisecond
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name string
		in   []time.Duration
		want []time.Duration
	}{
		{"forward stays as is", []time.Duration{0, f, 2 * f, 3 * f}, []time.Duration{0, f, 2 * f, 3 * f}},
		{"a step back shifts the rest", []time.Duration{0, f, 2 * f, ms(150), ms(250)}, []time.Duration{0, f, 2 * f, 3 * f, 4 * f}},
		{"a repeated time", []time.Duration{0, f, f, 2 * f}, []time.Duration{0, f, 2 * f, 3 * f}},
		{"two steps add up", []time.Duration{0, f, ms(50), ms(150), ms(60), ms(160)}, []time.Duration{0, f, 2 * f, 3 * f, 4 * f, 5 * f}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMonotonic()
			for i, in := range tc.in {
				pts, dts, _ := m.fix(in, in, f)
				if pts != tc.want[i] || dts != tc.want[i] {
					t.Errorf("picture %d at %v: got %v/%v, want %v", i, in, pts, dts, tc.want[i])
				}
			}
		})
	}
}

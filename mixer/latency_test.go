package mixer

import (
	"testing"
	"time"
)

func TestLatency(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name     string
		run      func(l *latency)
		p50, p95 time.Duration
	}{
		{"nothing measured", func(l *latency) {}, 0, 0},
		{"one point, one frame per picture", func(l *latency) {
			for i := range 10 {
				l.pushed(0, ms(100+33*i), ms(100+33*i))
				l.out(ms(100+33*i), ms(33), ms(100+33*i+50))
			}
		}, ms(50), ms(50)},
		{"a picture shows the newest frame, older ones are not counted", func(l *latency) {
			l.pushed(0, ms(100), ms(90))
			l.pushed(0, ms(110), ms(105))
			l.pushed(0, ms(200), ms(200)) // after the picture: waits for the next
			l.out(ms(100), ms(33), ms(145))
		}, ms(40), ms(40)},
		{"each point gives its own sample", func(l *latency) {
			l.pushed(0, ms(100), ms(100))
			l.pushed(1, ms(100), ms(80))
			l.out(ms(100), ms(33), ms(130))
		}, ms(50), ms(50)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLatency(2)
			tt.run(l)
			p50, p95, _ := l.percentiles()
			if p50 != tt.p50 || p95 != tt.p95 {
				t.Errorf("p50 %v p95 %v, want %v %v", p50, p95, tt.p50, tt.p95)
			}
		})
	}
}

func TestLatencyRingOverflow(t *testing.T) {
	l := newLatency(1)
	for i := range 3 * latencyRing {
		l.pushed(0, time.Duration(i)*time.Millisecond, time.Duration(i)*time.Millisecond)
	}
	l.out(time.Hour, time.Millisecond, time.Hour)
	if p50, _, _ := l.percentiles(); p50 != time.Hour-time.Duration(3*latencyRing-1)*time.Millisecond {
		t.Errorf("p50 %v: the newest push should have been kept", p50)
	}
}

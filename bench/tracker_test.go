package bench

import (
	"testing"
	"time"

	"diemcau/ingest"
)

// BenchmarkTrackerSenderReport is the per-RTCP-report cost of keeping a
// camera's clock offset (every source, every few seconds per track).
//
//	go test -run '^$' -bench BenchmarkTracker -benchmem ./bench/
func BenchmarkTrackerSenderReport(b *testing.B) {
	tr := ingest.NewTracker("cam", "Camera", "rtsp://cam/stream")
	// NTP time 40 s ahead of the arrival, in 32.32 fixed point since 1900.
	const ntpEpochOffset = 2208988800
	at := time.Now()
	ntpAt := func(t time.Time) uint64 {
		secs := uint64(t.Unix()+ntpEpochOffset) + 40
		return secs<<32 | uint64(t.Nanosecond())*(1<<32)/1e9
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t := at.Add(time.Duration(i) * 100 * time.Millisecond)
		tr.SenderReport(ntpAt(t), t)
	}
}

// BenchmarkTrackerStatus is one status read with a measured offset (the
// API and metrics read every source's).
func BenchmarkTrackerStatus(b *testing.B) {
	tr := ingest.NewTracker("cam", "Camera", "rtsp://cam/stream")
	now := time.Now()
	tr.SenderReport(uint64(now.Unix()+2208988800)<<32, now)
	b.ReportAllocs()
	for b.Loop() {
		_ = tr.Status()
	}
}

package ingest

import "time"

// sendReports writes every track's sender report to the stream's readers.
// The server sends its own (gortsplib's carry a malformed NTP time, see
// package rtcpsr).
func (o *outStream) sendReports(now time.Time) {
	for i, s := range o.reports {
		if s == nil || o.packetizers[i] == nil {
			continue
		}
		if sr, ok := s.Report(now); ok {
			_ = o.ss.WritePacketRTCP(o.packetizers[i].Media(), sr)
		}
	}
}

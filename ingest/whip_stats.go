package ingest

// NetStats are a WebRTC publisher's network figures (status "net"): what
// the server received and asked for again, and what the RTCP exchange
// tells of the path.
type NetStats struct {
	PacketsReceived uint64 `json:"packets_received"`
	// PacketsLost are packets given up on after the jitter buffer's wait
	// (their retransmission did not come in time).
	PacketsLost uint64  `json:"packets_lost"`
	LossPct     float64 `json:"loss_pct"`
	// PathLost are packets that did not arrive when due (a gap in the
	// sequence numbers), before retransmission repaired most of them: the
	// loss on the path itself.
	PathLost uint64 `json:"path_lost"`
	// PathLossPct is PathLost's share of the packets due over the last
	// 10 s.
	PathLossPct float64 `json:"path_loss_pct"`
	// JitterMS is the video's RTP interarrival jitter (RFC 3550).
	JitterMS float64 `json:"jitter_ms"`
	// RTTMS is the round trip to the publisher, from its RTCP receiver
	// reports' answers to ours (0 until it has sent one).
	RTTMS       float64 `json:"rtt_ms"`
	BitrateKbps float64 `json:"bitrate_kbps"`
	// NACKsSent counts retransmission requests sent to the publisher.
	NACKsSent uint64 `json:"nacks_sent"`
	// KeyframeRequests counts PLIs sent after a loss (the mixer's own
	// requests are counted by the stream).
	KeyframeRequests uint64 `json:"keyframe_requests"`
	// PicturesDropped are pictures left out because a packet of theirs
	// was lost.
	PicturesDropped uint64 `json:"pictures_dropped"`
}

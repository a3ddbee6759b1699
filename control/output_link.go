package control

import "diemcau/ingest"

// OutputLink is what a WHIP output measures of its path to the far end
// (the same figures as the WHIP client's, control/whep.LinkStats).
type OutputLink struct {
	// PacketsSent are RTP packets sent the first time, this connection.
	PacketsSent uint64 `json:"packets_sent"`
	// PacketsLost are packets the far end did not get when due: asked
	// for again (NACK) or reported lost; most video losses are repaired.
	PacketsLost uint64 `json:"packets_lost"`
	// LossPct is the lost share over the last 10 s.
	LossPct float64 `json:"loss_pct"`
	// Retransmitted are packets sent again on the far end's request.
	Retransmitted uint64 `json:"packets_retransmitted"`
	// BitrateKbps is what went out over the last 10 s, kbit/s.
	BitrateKbps float64 `json:"bitrate_kbps"`
	// RTTMS is the round trip from the far end's receiver reports.
	RTTMS float64 `json:"rtt_ms"`
	// JitterMS is the video's interarrival jitter the far end reports.
	JitterMS float64 `json:"jitter_ms"`
	// NACKsSent: retransmission requests sent (a receiver's; 0 here).
	NACKsSent uint64 `json:"nacks_sent,omitempty"`
}

// ReturnFeed is a point node's return feed as the node receives it: its
// source "hub", state and network figures.
type ReturnFeed struct {
	State ingest.State `json:"state"`
	Error string       `json:"error,omitempty"`
	ingest.NetStats
}

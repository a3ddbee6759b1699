package ingest

// SRTStats are an srt:// source's link figures as SRT itself counts them,
// for the encoder's current connection (or its last, once it has gone):
// what a technician compares with the encoder's own screen.
type SRTStats struct {
	// Remote is the encoder's address.
	Remote string `json:"remote,omitempty"`
	// Connected is false once the encoder has gone (the figures are then
	// its last connection's).
	Connected bool `json:"connected"`
	// Encrypted: the link is AES-encrypted with the source's passphrase.
	Encrypted bool `json:"encrypted"`
	// LatencyMS is the receive latency the listener offers (the caller may
	// ask for more: SRT takes the larger).
	LatencyMS int64 `json:"latency_ms"`
	// RTTMS is SRT's smoothed round-trip time.
	RTTMS float64 `json:"rtt_ms"`
	// RecvRateMbps is what arrives now; LinkCapacityMbps SRT's estimate of
	// what the path can carry (from packet pairs).
	RecvRateMbps     float64 `json:"recv_rate_mbps"`
	LinkCapacityMbps float64 `json:"link_capacity_mbps"`
	// Packets received (retransmissions included), lost (detected missing;
	// most are then retransmitted), retransmitted (arrived again after a
	// NAK), dropped (too late for the latency: a real hole in the picture)
	// and undecrypted (a wrong key).
	PacketsReceived      uint64 `json:"packets_received"`
	PacketsLost          uint64 `json:"packets_lost"`
	PacketsRetransmitted uint64 `json:"packets_retransmitted"`
	PacketsDropped       uint64 `json:"packets_dropped"`
	PacketsUndecrypted   uint64 `json:"packets_undecrypted"`
	// DroppedTracks names tracks of the encoder's MPEG-TS that diemcau
	// cannot carry (e.g. "MPEG-1 audio (mp2)"): they are left out, and
	// the encoder should be set to H.264/H.265 with AAC or Opus.
	DroppedTracks []string `json:"dropped_tracks,omitempty"`
}

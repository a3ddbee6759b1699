package control

import "diemcau/ingest"

// ReturnFeed is a point node's return feed as the node receives it: its
// source "hub", state and network figures.
type ReturnFeed struct {
	State ingest.State `json:"state"`
	Error string       `json:"error,omitempty"`
	ingest.NetStats
}

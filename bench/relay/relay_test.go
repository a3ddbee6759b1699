package relay

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestRelayDelivers runs the scenario small, viewers in this process: every
// viewer gets video and audio, and what the server sent arrives.
func TestRelayDelivers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := Run(ctx, Config{Viewers: 4, BitrateKbps: 500, Warmup: time.Second, Duration: 2 * time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + r.Table())
	if r.ViewersStarved != 0 || r.PacketsReceived == 0 {
		t.Fatalf("%d viewers starved, %d packets received", r.ViewersStarved, r.PacketsReceived)
	}
	// 4 viewers × 50 Opus packets a second for 2 s, give or take the edges.
	if r.AudioReceived < 300 {
		t.Errorf("only %d audio packets", r.AudioReceived)
	}
	if r.PacketsReceived < r.PacketsSent*9/10 {
		t.Errorf("sent %d, received %d", r.PacketsSent, r.PacketsReceived)
	}
}

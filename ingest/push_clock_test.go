package ingest

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"diemcau/internal/testkit"

	"github.com/bluenviron/gortsplib/v4"
)

// An encoder's wall clock, from the RTCP sender reports it sends with what
// it publishes, shows in the push source's status.
func TestPushSourceClockOffset(t *testing.T) {
	checkLeaks(t)
	clip := loadClip(t, clipSpec{})
	srv := startServer(t, testkit.Logger(t))
	for i, tc := range []struct {
		name string
		skew clockSkew
		want float64 // NaN: none
	}{
		{"40 s ahead", clockSkew{rate: 1, offset: 40 * time.Second}, 40},
		{"no sender reports", clockSkew{rate: 1, noSenderReports: true}, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("clk-%d", i)
			src := runPush(t, srv, id, "push://")
			desc := clockClipDesc(clip)
			tcp := gortsplib.TransportTCP
			c := &gortsplib.Client{Transport: &tcp, DisableRTCPSenderReports: tc.skew.noSenderReports}
			if err := c.StartRecording(srv.url+"/ingest/"+id, desc); err != nil {
				t.Fatal(err)
			}
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				sendSkewedClip(c, desc.Medias[0], clip, tc.skew, stop)
			}()
			t.Cleanup(func() {
				close(stop)
				<-done
				c.Close()
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			waitOnline(ctx, t, src)
			if math.IsNaN(tc.want) {
				testkit.WaitFor(t, ctx, "50 frames", func() bool { return src.Status().Frames >= 50 })
				if st := src.Status(); st.ClockOffsetS != nil {
					t.Fatalf("offset %v reported without sender reports", *st.ClockOffsetS)
				}
				return
			}
			testkit.WaitFor(t, ctx, "a clock offset", func() bool { return src.Status().ClockOffsetS != nil })
			if got := *src.Status().ClockOffsetS; math.Abs(got-tc.want) > 1 {
				t.Fatalf("clock_offset_s %v, want about %v", got, tc.want)
			}
		})
	}
}

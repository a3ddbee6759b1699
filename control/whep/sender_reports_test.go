package whep

import (
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

func TestMediaClock(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var c mediaClock
	if _, ok := c.at(t0); ok {
		t.Fatal("a clock with no frame answered")
	}
	steps := []struct {
		name   string
		pts    time.Duration
		now    time.Time
		askAt  time.Time
		wantAt time.Duration
	}{
		{"the first frame anchors", time.Second, t0, t0.Add(500 * time.Millisecond), 1500 * time.Millisecond},
		// Sound written 70 ms after its time (the AAC encoder's latency)
		// does not move the anchor: both tracks keep one timeline.
		{"a late frame keeps the anchor", 1100 * time.Millisecond, t0.Add(170 * time.Millisecond), t0.Add(time.Second), 2 * time.Second},
		{"a jump re-anchors", 60 * time.Second, t0.Add(2 * time.Second), t0.Add(3 * time.Second), 61 * time.Second},
	}
	for _, s := range steps {
		c.note(s.pts, s.now)
		if got, _ := c.at(s.askAt); got != s.wantAt {
			t.Errorf("%s: at %v, want %v", s.name, got, s.wantAt)
		}
	}
}

// The sender reports of a viewer's two tracks place them on one timeline,
// whenever each track's packets were written.
func TestSenderReportsOneTimeline(t *testing.T) {
	t0 := time.Now()
	var c mediaClock
	c.note(10*time.Second, t0)
	const videoBase, audioBase = 1000, 5_000_000
	rtpAt := func(video bool, rate uint32, now time.Time) (uint32, bool) {
		pts, ok := c.at(now)
		base := uint32(audioBase)
		if video {
			base = videoBase
		}
		return base + rtpTime(pts, int(rate)), ok
	}
	i, err := senderReportsFactory{rtpAt: rtpAt}.NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
	sr := i.(*senderReports)
	defer sr.Close()
	discard := interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) { return len(p), nil })
	video := sr.BindLocalStream(&interceptor.StreamInfo{SSRC: 1, MimeType: "video/H264", ClockRate: 90000}, discard)
	audio := sr.BindLocalStream(&interceptor.StreamInfo{SSRC: 2, MimeType: "audio/opus", ClockRate: 48000}, discard)

	now := t0.Add(3 * time.Second)
	if got := sr.reports(now); len(got) != 0 {
		t.Fatalf("%d reports before any packet", len(got))
	}
	_, _ = video.Write(&rtp.Header{}, make([]byte, 100), nil)
	_, _ = audio.Write(&rtp.Header{}, make([]byte, 50), nil)
	reports := sr.reports(now)
	if len(reports) != 2 {
		t.Fatalf("%d reports, want 2", len(reports))
	}
	for _, p := range reports {
		r := p.(*rtcp.SenderReport)
		rate, base := 48000.0, uint32(audioBase)
		if r.SSRC == 1 {
			rate, base = 90000, videoBase
		}
		at := time.Duration(float64(r.RTPTime-base) / rate * float64(time.Second))
		if d := at - 13*time.Second; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("ssrc %d: rtp time stands for %v, want 13s", r.SSRC, at)
		}
		if r.NTPTime != ntpTime(now) || r.PacketCount != 1 {
			t.Errorf("ssrc %d: ntp %x packets %d", r.SSRC, r.NTPTime, r.PacketCount)
		}
	}
}

func TestNTPTime(t *testing.T) {
	got := ntpTime(time.Unix(0, 500_000_000))
	if sec, frac := got>>32, got&0xffffffff; sec != 2208988800 || frac != 1<<31 {
		t.Errorf("ntp of 1970-01-01 00:00:00.5: %d.%x", sec, frac)
	}
}

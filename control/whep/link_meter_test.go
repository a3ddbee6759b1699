package whep

import (
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// TestLinkMeter: what the far end says of the packets turns into the
// path's loss once per packet (a NACK repeated, a NACK and a report of
// the same loss), never for a packet not sent; retransmissions are not
// counted as sent; the round trip is the report's arrival less the sender
// report's departure and the far end's delay.
func TestLinkMeter(t *testing.T) {
	const video, audio = 0x1111, 0x2222
	nack := func(seqs ...uint16) rtcp.Packet {
		n := &rtcp.TransportLayerNack{MediaSSRC: video}
		for _, s := range seqs {
			n.Nacks = append(n.Nacks, rtcp.NackPair{PacketID: s})
		}
		return n
	}
	report := func(ssrc, lost uint32) rtcp.Packet {
		return &rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: ssrc, TotalLost: lost}}}
	}
	tests := []struct {
		name          string
		resend        []uint16 // video packets sent again
		far           []rtcp.Packet
		lost, retrans uint64
	}{
		{"nothing lost", nil, []rtcp.Packet{report(video, 0), report(audio, 0)}, 0, 0},
		{"a NACK repeated counts once", []uint16{5, 6}, []rtcp.Packet{nack(5, 6), nack(5, 6)}, 2, 2},
		{"a packet not sent yet is not lost", nil, []rtcp.Packet{nack(150)}, 0, 0},
		{"sound lost by the report", nil, []rtcp.Packet{report(audio, 3)}, 3, 0},
		{"a NACK and a report of the same loss: the larger", []uint16{5, 6, 7}, []rtcp.Packet{nack(5, 6, 7), report(video, 2)}, 3, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newLinkMeter()
			i, _ := m.NewInterceptor("pc")
			send := func(ssrc uint32, mime string, n int) interceptor.RTPWriter {
				w := i.BindLocalStream(&interceptor.StreamInfo{SSRC: ssrc, MimeType: mime, ClockRate: 90000},
					interceptor.RTPWriterFunc(func(*rtp.Header, []byte, interceptor.Attributes) (int, error) { return 0, nil }))
				for s := 1; s <= n; s++ {
					_, _ = w.Write(&rtp.Header{SSRC: ssrc, SequenceNumber: uint16(s)}, make([]byte, 100), nil)
				}
				return w
			}
			v := send(video, "video/H264", 100)
			send(audio, "audio/opus", 50)
			for _, s := range tc.resend {
				_, _ = v.Write(&rtp.Header{SSRC: video, SequenceNumber: s}, make([]byte, 100), nil)
			}
			m.read(tc.far, time.Now())
			st := m.Stats()
			if st.PacketsSent != 150 || st.PacketsLost != tc.lost || st.Retransmitted != tc.retrans {
				t.Errorf("sent %d lost %d retransmitted %d, want 150, %d, %d", st.PacketsSent, st.PacketsLost, st.Retransmitted, tc.lost, tc.retrans)
			}
			if want := 100 * float64(tc.lost) / 150; st.LossPct < want-0.006 || st.LossPct > want+0.006 {
				t.Errorf("loss %.2f %%, want %.2f", st.LossPct, want)
			}
		})
	}

	t.Run("round trip", func(t *testing.T) {
		m := newLinkMeter()
		i, _ := m.NewInterceptor("pc")
		i.BindLocalStream(&interceptor.StreamInfo{SSRC: video, MimeType: "video/H264", ClockRate: 90000},
			interceptor.RTPWriterFunc(func(*rtp.Header, []byte, interceptor.Attributes) (int, error) { return 0, nil }))
		left := time.Now()
		const ntp = uint64(0x0123456789abcdef)
		m.wrote([]rtcp.Packet{&rtcp.SenderReport{SSRC: video, NTPTime: ntp}}, left)
		// The far end held it 10 ms (DLSR in 1/65536 s) and its answer
		// came 50 ms after ours left.
		rr := &rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: video, LastSenderReport: uint32(ntp >> 16 & 0xffffffff), Delay: 655, Jitter: 900}}}
		m.read([]rtcp.Packet{rr}, left.Add(50*time.Millisecond))
		st := m.Stats()
		if st.RTTMS < 39.9 || st.RTTMS > 40.1 {
			t.Errorf("round trip %.1f ms, want 40", st.RTTMS)
		}
		if st.JitterMS != 10 {
			t.Errorf("jitter %.1f ms, want 10 (900 ticks of 90 kHz)", st.JitterMS)
		}
	})
}

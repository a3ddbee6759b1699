package whep

import (
	"strings"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// linkWindow is how far back a link's bitrate and loss share look.
const linkWindow = 10 * time.Second

// LinkStats are what a WHIP client measures of its path to the far end
// (status "link"): what it sent, what the far end reports it did not get
// and how long the round trip is.
type LinkStats struct {
	// PacketsSent are RTP packets sent the first time (retransmissions
	// not counted), this connection.
	PacketsSent uint64 `json:"packets_sent"`
	// PacketsLost are packets the far end did not get when due, this
	// connection: each one it asked for again (NACK) or, where it asks
	// for none (sound), counted lost in its receiver reports. Most video
	// losses are repaired by the retransmission.
	PacketsLost uint64 `json:"packets_lost"`
	// LossPct is the lost share of the packets sent over the last 10 s.
	LossPct float64 `json:"loss_pct"`
	// Retransmitted are packets sent again on the far end's request.
	Retransmitted uint64 `json:"packets_retransmitted"`
	// BitrateKbps is what went out over the last 10 s (RTP headers and
	// payloads, retransmissions included), kbit/s.
	BitrateKbps float64 `json:"bitrate_kbps"`
	// RTTMS is the round trip from the far end's receiver reports (the
	// delay since our sender report it answers, taken off); 0 until one
	// came.
	RTTMS float64 `json:"rtt_ms"`
	// JitterMS is the video's interarrival jitter the far end reports.
	JitterMS float64 `json:"jitter_ms"`
	// NACKsSent counts retransmission requests this end sent (a receiver).
	NACKsSent uint64 `json:"nacks_sent,omitempty"`
}

// linkMeter is an interceptor that measures a peer connection's path. It
// is registered first, so it sits next to the transport and sees what
// the others add: retransmissions, sender reports and NACKs. A new peer
// connection starts its figures again.
type linkMeter struct {
	mu      sync.Mutex
	streams map[uint32]*sentStream // by SSRC
	srs     []srSent               // our latest sender reports
	bytes   uint64                 // sent, retransmissions included
	retrans uint64
	nacks   uint64 // NACK packets written
	rtt     time.Duration
	jitter  float64 // video, ms
	samples []linkSample
}

// sentStream is one outgoing track.
type sentStream struct {
	video    bool
	clock    float64
	have     bool
	highest  uint16
	sent     uint64
	nacked   [1 << 16 / 64]uint64 // sequence numbers asked for again since sent
	nackLost uint64               // distinct packets asked for again
	rrLost   uint64               // cumulative lost in the far end's reports
}

type srSent struct {
	mid uint32 // the middle 32 bits of its NTP time, as a report echoes it
	at  time.Time
}

type linkSample struct {
	at                time.Time
	sent, lost, bytes uint64
}

func newLinkMeter() *linkMeter { return &linkMeter{streams: map[uint32]*sentStream{}} }

// NewInterceptor is called once per peer connection (interceptor.Factory).
func (m *linkMeter) NewInterceptor(string) (interceptor.Interceptor, error) {
	m.mu.Lock()
	m.streams, m.srs, m.samples = map[uint32]*sentStream{}, nil, nil
	m.bytes, m.retrans, m.nacks, m.rtt, m.jitter = 0, 0, 0, 0, 0
	m.mu.Unlock()
	return &linkInterceptor{m: m}, nil
}

type linkInterceptor struct {
	interceptor.NoOp
	m *linkMeter
}

func (l *linkInterceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	m := l.m
	m.mu.Lock()
	m.streams[info.SSRC] = &sentStream{video: strings.HasPrefix(strings.ToLower(info.MimeType), "video/"), clock: float64(info.ClockRate)}
	m.mu.Unlock()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		m.sent(h, len(payload), time.Now())
		return w.Write(h, payload, a)
	})
}

func (l *linkInterceptor) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
		l.m.wrote(pkts, time.Now())
		return w.Write(pkts, a)
	})
}

func (l *linkInterceptor) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err != nil {
			return n, a, err
		}
		if a == nil {
			a = interceptor.Attributes{}
		}
		if pkts, perr := a.GetRTCPPackets(b[:n]); perr == nil {
			l.m.read(pkts, time.Now())
		}
		return n, a, err
	})
}

// sent counts one outgoing packet: an original (past the highest sequence
// number yet) or a retransmission.
func (m *linkMeter) sent(h *rtp.Header, payload int, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rollLocked(now) // before counting: the first sample is the connection's start
	m.bytes += uint64(h.MarshalSize() + payload)
	s := m.streams[h.SSRC]
	if s == nil {
		return
	}
	if s.have && int16(h.SequenceNumber-s.highest) <= 0 {
		m.retrans++
		return
	}
	s.have, s.highest = true, h.SequenceNumber
	s.sent++
	s.nacked[h.SequenceNumber/64] &^= 1 << (h.SequenceNumber % 64)
}

// wrote notes our sender reports (their times, for the round trip) and
// NACKs.
func (m *linkMeter) wrote(pkts []rtcp.Packet, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			m.srs = append(m.srs, srSent{mid: uint32(p.NTPTime >> 16), at: now})
			if len(m.srs) > 16 {
				m.srs = m.srs[1:]
			}
		case *rtcp.TransportLayerNack:
			m.nacks++
		}
	}
}

// read takes the far end's NACKs (each packet asked for counts once as
// lost) and receiver reports (round trip, jitter, the losses it does not
// ask for).
func (m *linkMeter) read(pkts []rtcp.Packet, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.TransportLayerNack:
			s := m.streams[p.MediaSSRC]
			if s == nil || !s.have {
				continue
			}
			for _, pair := range p.Nacks {
				for _, seq := range pair.PacketList() {
					behind := int16(s.highest - seq)
					bit := uint64(1) << (seq % 64)
					if behind < 0 || s.nacked[seq/64]&bit != 0 {
						continue // not sent yet, or counted already
					}
					s.nacked[seq/64] |= bit
					s.nackLost++
				}
			}
		case *rtcp.ReceiverReport:
			m.reportsLocked(p.Reports, now)
		case *rtcp.SenderReport: // a peer that sends too reports in its SRs
			m.reportsLocked(p.Reports, now)
		}
	}
}

func (m *linkMeter) reportsLocked(reports []rtcp.ReceptionReport, now time.Time) {
	for _, r := range reports {
		s := m.streams[r.SSRC]
		if s == nil {
			continue
		}
		s.rrLost = max(s.rrLost, uint64(r.TotalLost))
		if s.video && s.clock > 0 {
			m.jitter = float64(r.Jitter) / s.clock * 1000
		}
		if r.LastSenderReport == 0 {
			continue
		}
		for _, sr := range m.srs {
			if sr.mid == r.LastSenderReport {
				dlsr := time.Duration(float64(r.Delay) / 65536 * float64(time.Second))
				if rtt := now.Sub(sr.at) - dlsr; rtt >= 0 {
					m.rtt = rtt
				}
				break
			}
		}
	}
}

// totalsLocked are the connection's originals sent and path losses: per
// track, the larger of the packets asked for again and those the far end
// reports lost.
func (m *linkMeter) totalsLocked() (sent, lost uint64) {
	for _, s := range m.streams {
		sent += s.sent
		lost += max(s.nackLost, s.rrLost)
	}
	return sent, lost
}

// rollLocked samples the totals once a second, keeping linkWindow of them.
func (m *linkMeter) rollLocked(now time.Time) {
	if n := len(m.samples); n > 0 && now.Sub(m.samples[n-1].at) < time.Second {
		return
	}
	sent, lost := m.totalsLocked()
	m.samples = append(m.samples, linkSample{at: now, sent: sent, lost: lost, bytes: m.bytes})
	cut := 0
	for cut < len(m.samples)-1 && now.Sub(m.samples[cut+1].at) >= linkWindow {
		cut++
	}
	m.samples = m.samples[cut:]
}

// Stats are the figures now.
func (m *linkMeter) Stats() LinkStats {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rollLocked(now)
	sent, lost := m.totalsLocked()
	st := LinkStats{PacketsSent: sent, PacketsLost: lost, Retransmitted: m.retrans, NACKsSent: m.nacks,
		RTTMS: round1(m.rtt.Seconds() * 1000), JitterMS: round1(m.jitter)}
	if len(m.samples) > 0 {
		first := m.samples[0]
		if ds := sent - first.sent; ds > 0 && lost >= first.lost {
			st.LossPct = round2(100 * float64(lost-first.lost) / float64(ds))
		}
		if secs := now.Sub(first.at).Seconds(); secs >= 0.5 {
			st.BitrateKbps = round1(float64(m.bytes-first.bytes) * 8 / 1000 / secs)
		}
	}
	return st
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// pairRTTMS is the round trip of pc's selected ICE candidate pair, from
// ICE's own consent checks, in ms: a receive-only peer sends no sender
// reports, so RTCP cannot time its path. 0 until measured.
func pairRTTMS(pc *webrtc.PeerConnection) float64 {
	for _, st := range pc.GetStats() {
		if cp, ok := st.(webrtc.ICECandidatePairStats); ok && cp.Nominated && cp.CurrentRoundTripTime > 0 {
			return cp.CurrentRoundTripTime * 1000
		}
	}
	return 0
}

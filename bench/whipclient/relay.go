package whipclient

import (
	"errors"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Relay sits between a publisher and the server's ICE port: it drops a
// share of the RTP and RTCP packets each way and delays every packet by a
// random time up to its jitter, which reorders them, as a poor mobile
// link does. STUN and DTLS always pass: the point is the media path, not
// whether ICE gives up.
type Relay struct {
	conn   *net.UDPConn
	server *net.UDPAddr
	loss   float64
	jitter time.Duration

	mu     sync.Mutex
	client *net.UDPAddr
	rng    *rand.Rand

	dropped, passed atomic.Uint64
	wg              sync.WaitGroup
}

// NewRelay relays to server on a loopback port of its own. A nil server
// is learnt from the answer Rewrite is given (its first UDP candidate).
func NewRelay(server *net.UDPAddr, loss float64, jitter time.Duration) (*Relay, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	_ = conn.SetReadBuffer(4 << 20)
	r := &Relay{conn: conn, server: server, loss: loss, jitter: jitter, rng: rand.New(rand.NewPCG(1, 2))}
	r.wg.Add(1)
	go r.run()
	return r, nil
}

func (r *Relay) run() {
	defer r.wg.Done()
	buf := make([]byte, 1600)
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// An ICMP error of an earlier send (a port not yet or no
			// longer open) surfaces here; the relay goes on.
			continue
		}
		pkt := append([]byte(nil), buf[:n]...)
		r.mu.Lock()
		to := r.server
		if to == nil {
			r.mu.Unlock()
			continue
		}
		if from.Port == r.server.Port && from.IP.Equal(r.server.IP) {
			to = r.client
		} else {
			r.client = from
		}
		drop := r.rng.Float64() < r.loss
		delay := time.Duration(r.rng.Int64N(int64(r.jitter) + 1))
		r.mu.Unlock()
		if to == nil || (drop && pkt[0] >= 128 && pkt[0] <= 191) {
			r.dropped.Add(1)
			continue
		}
		r.passed.Add(1)
		if delay == 0 {
			_, _ = r.conn.WriteToUDP(pkt, to)
			continue
		}
		r.wg.Add(1)
		time.AfterFunc(delay, func() {
			defer r.wg.Done()
			_, _ = r.conn.WriteToUDP(pkt, to)
		})
	}
}

var (
	udpCandidate = regexp.MustCompile(`(a=candidate:\S+ \d+ udp \d+ )(\d+\.\d+\.\d+\.\d+) (\d+)( typ host[^\r\n]*\r\n)`)
	tcpCandidate = regexp.MustCompile(`a=candidate:\S+ \d+ tcp [^\r\n]*\r\n`)
)

// Rewrite points an answer's IPv4 UDP candidates (every component: a
// peer may pick the RTCP one) at the relay and drops its TCP ones, so
// every packet crosses the relay; the first names the server.
func (r *Relay) Rewrite(answer string) string {
	port := strconv.Itoa(r.conn.LocalAddr().(*net.UDPAddr).Port)
	answer = udpCandidate.ReplaceAllStringFunc(answer, func(c string) string {
		m := udpCandidate.FindStringSubmatch(c)
		p, _ := strconv.Atoi(m[3])
		r.mu.Lock()
		if r.server == nil {
			r.server = &net.UDPAddr{IP: net.ParseIP(m[2]).To4(), Port: p}
		}
		r.mu.Unlock()
		return m[1] + "127.0.0.1 " + port + m[4]
	})
	return tcpCandidate.ReplaceAllString(answer, "")
}

// Dropped and Passed count the packets lost and carried.
func (r *Relay) Dropped() uint64 { return r.dropped.Load() }
func (r *Relay) Passed() uint64  { return r.passed.Load() }

// Close stops the relay and waits for the packets in flight.
func (r *Relay) Close() {
	_ = r.conn.Close()
	r.wg.Wait()
}

// RewriteOffer points the publisher's own candidates at the relay too, so
// that the server's connectivity checks also cross it: otherwise the
// server reaches the publisher directly, and ICE may pick that path.
func (r *Relay) RewriteOffer(offer string) string {
	port := strconv.Itoa(r.conn.LocalAddr().(*net.UDPAddr).Port)
	offer = udpCandidate.ReplaceAllString(offer, "${1}127.0.0.1 "+port+"${4}")
	return tcpCandidate.ReplaceAllString(offer, "")
}

// Addr is the relay's own address, the one publishers are sent to.
func (r *Relay) Addr() net.Addr { return r.conn.LocalAddr() }

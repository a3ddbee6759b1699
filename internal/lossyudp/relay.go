// Package lossyudp is a UDP relay that loses a share of the datagrams each
// way, may hold each a while and may limit the rate towards the caller: a
// lossy, slow or narrow WAN link between one caller and a server, for
// tests and benchmarks of SRT, WebRTC and anything else over UDP.
package lossyudp

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Relay forwards datagrams between the last caller that sent to Addr and
// the server, dropping Loss of them in each direction.
type Relay struct {
	conn    *net.UDPConn // callers send here
	up      *net.UDPConn // towards the server
	loss    float64
	delay   time.Duration // added to every datagram, each way
	upQ     *delayed      // towards the server
	downQ   *delayed      // towards the caller
	dropped atomic.Uint64
	passed  atomic.Uint64
	// rate limits the server → caller direction, bit/s (0: none);
	// nextFree is when the limited link is free again (fromServer only);
	// limited counts what it lost.
	rate     atomic.Int64
	nextFree time.Time
	limited  atomic.Uint64

	mu     sync.Mutex
	caller *net.UDPAddr
	wg     sync.WaitGroup
}

// Start relays from a loopback port to server, losing loss (0 to 1) of the
// datagrams each way. Close it when done.
func Start(server string, loss float64) (*Relay, error) { return StartDelayed(server, loss, 0) }

// StartDelayed is Start with every datagram held for delay each way: a
// path whose round trip is 2 × delay.
func StartDelayed(server string, loss float64, delay time.Duration) (*Relay, error) {
	if loss < 0 || loss >= 1 {
		return nil, fmt.Errorf("lossyudp: loss %v: want 0 to 1", loss)
	}
	sa, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		return nil, fmt.Errorf("lossyudp: %w", err)
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("lossyudp: %w", err)
	}
	up, err := net.DialUDP("udp", nil, sa)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("lossyudp: %w", err)
	}
	r := &Relay{conn: c, up: up, loss: loss, delay: delay}
	r.upQ = r.newDelayed(func(b []byte) { _, _ = r.up.Write(b) })
	r.downQ = r.newDelayed(func(b []byte) {
		r.mu.Lock()
		caller := r.caller
		r.mu.Unlock()
		_, _ = r.conn.WriteToUDP(b, caller)
	})
	r.wg.Add(2)
	go r.fromCaller()
	go r.fromServer()
	return r, nil
}

// Addr is where callers send.
func (r *Relay) Addr() string { return r.conn.LocalAddr().String() }

// Dropped and Passed count datagrams, both directions together.
func (r *Relay) Dropped() uint64 { return r.dropped.Load() }

// Passed counts the datagrams forwarded.
func (r *Relay) Passed() uint64 { return r.passed.Load() }

// rateQueue is how much a rate-limited link holds before it loses
// datagrams, as a router's buffer: 100 ms at its rate.
const rateQueue = 100 * time.Millisecond

// SetRate limits the server → caller direction to bps bits per second, 0
// for no limit, at any time: a link that narrows and widens again. A
// datagram waits its turn behind the ones before it, at most rateQueue;
// past that it is lost (Limited).
func (r *Relay) SetRate(bps int64) { r.rate.Store(max(bps, 0)) }

// Limited counts the datagrams the rate limit lost.
func (r *Relay) Limited() uint64 { return r.limited.Load() }

// pace is when a datagram of n bytes to the caller leaves the limited
// link; false when it is lost to the limit. fromServer only.
func (r *Relay) pace(n int) (time.Time, bool) {
	now := time.Now()
	rate := r.rate.Load()
	if rate <= 0 {
		return now, true
	}
	start := now
	if r.nextFree.After(now) {
		start = r.nextFree
	}
	if start.Sub(now) > rateQueue {
		r.limited.Add(1)
		return time.Time{}, false
	}
	r.nextFree = start.Add(time.Duration(int64(n) * 8 * int64(time.Second) / rate))
	return r.nextFree, true
}

// Close stops the relay and waits for it.
func (r *Relay) Close() {
	r.conn.Close()
	r.up.Close()
	r.wg.Wait()
}

func (r *Relay) drop() bool {
	if rand.Float64() < r.loss {
		r.dropped.Add(1)
		return true
	}
	r.passed.Add(1)
	return false
}

// delayed is one direction's queue of held datagrams, sent in order: a
// path delays, it does not reorder.
type delayed struct {
	q chan held
}

type held struct {
	due time.Time
	b   []byte
}

func (r *Relay) newDelayed(write func([]byte)) *delayed {
	d := &delayed{q: make(chan held, 4096)}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for h := range d.q {
			time.Sleep(time.Until(h.due))
			write(h.b)
		}
	}()
	return d
}

// send writes b now, or queues a copy for the delay (after leaving a rate
// limited link at leaves; zero: now).
func (r *Relay) send(d *delayed, b []byte, leaves time.Time, write func([]byte)) {
	if r.delay <= 0 && leaves.IsZero() {
		write(b)
		return
	}
	if leaves.IsZero() {
		leaves = time.Now()
	}
	select {
	case d.q <- held{due: leaves.Add(r.delay), b: append([]byte(nil), b...)}:
	default: // a full queue loses the datagram, as a router's does
		r.dropped.Add(1)
	}
}

func (r *Relay) fromCaller() {
	defer r.wg.Done()
	defer close(r.upQ.q)
	buf := make([]byte, 65536)
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		r.caller = from
		r.mu.Unlock()
		if !r.drop() {
			r.send(r.upQ, buf[:n], time.Time{}, func(b []byte) { _, _ = r.up.Write(b) })
		}
	}
}

func (r *Relay) fromServer() {
	defer r.wg.Done()
	defer close(r.downQ.q)
	buf := make([]byte, 65536)
	for {
		n, err := r.up.Read(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		caller := r.caller
		r.mu.Unlock()
		if caller == nil || r.drop() {
			continue
		}
		leaves := time.Time{}
		if r.rate.Load() > 0 {
			var ok bool
			if leaves, ok = r.pace(n); !ok {
				continue
			}
		}
		r.send(r.downQ, buf[:n], leaves, func(b []byte) { _, _ = r.conn.WriteToUDP(b, caller) })
	}
}

package whep

import (
	"fmt"
	"net"
	"net/http"

	"diemcau/ingest/connlimit"
)

// Reasons a viewer is refused by a cap: the reason label of
// diemcau_conn_refused_total{listener="whep"}.
const (
	RefusedMaxViewers         = "max_viewers"
	RefusedMaxConnecting      = "max_connecting"
	RefusedMaxViewersPerToken = "max_viewers_per_token"
	RefusedMaxViewersPerIP    = "max_viewers_per_ip"
	RefusedMaxConnectingPerIP = "max_connecting_per_ip"
)

var refusedReasons = []string{RefusedMaxViewers, RefusedMaxConnecting, RefusedMaxViewersPerToken, RefusedMaxViewersPerIP, RefusedMaxConnectingPerIP}

// quotaKey is what a viewer counts against besides the totals: its
// invite (none for API tokens) and its address.
type quotaKey struct {
	invite string
	addr   string
}

// quotaOf is the key of a viewer let in with g from the request's peer.
func quotaOf(g Grant, r *http.Request) quotaKey {
	q := quotaKey{invite: g.Invite}
	if ap, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
		q.addr = connlimit.AddrKey(ap)
	} else {
		q.addr = r.RemoteAddr
	}
	return q
}

// quotas are the counts behind the per-token and per-address caps;
// guarded by Server.mu.
type quotas struct {
	byInvite     map[string]int // viewers, connected or connecting
	byAddr       map[string]int
	connectingBy map[string]int // connecting, by address
	refused      map[string]uint64
}

func (q *quotas) init() {
	q.byInvite, q.byAddr, q.connectingBy = map[string]int{}, map[string]int{}, map[string]int{}
	q.refused = map[string]uint64{}
}

// capped reports whether n has reached the cap c (c ≤ 0: no cap).
func capped(n, c int) bool { return c > 0 && n >= c }

// checkCapsLocked refuses a new viewer over any cap, counting why.
func (s *Server) checkCapsLocked(k quotaKey) *httpError {
	q, c := &s.quota, s.cfg
	if q.byAddr == nil {
		q.init()
	}
	var (
		reason string
		e      *httpError
	)
	switch {
	case capped(len(s.viewers)+s.connecting, c.MaxViewers):
		reason, e = RefusedMaxViewers, &httpError{Status: http.StatusServiceUnavailable, Code: "full",
			Message: fmt.Sprintf("the server has its maximum of %d viewers (webrtc.max_viewers); try again later", c.MaxViewers), RetryAfter: 10}
	case k.invite != "" && capped(q.byInvite[k.invite], c.MaxViewersPerToken):
		reason, e = RefusedMaxViewersPerToken, &httpError{Status: http.StatusTooManyRequests, Code: "token_full",
			Message: fmt.Sprintf("this invite already has its maximum of %d viewers; ask the operator for another link", c.MaxViewersPerToken), RetryAfter: 30}
	case capped(q.byAddr[k.addr], c.MaxViewersPerIP):
		reason, e = RefusedMaxViewersPerIP, &httpError{Status: http.StatusTooManyRequests, Code: "address_full",
			Message: fmt.Sprintf("your address already has its maximum of %d viewers", c.MaxViewersPerIP), RetryAfter: 30}
	case capped(s.connecting, c.MaxConnecting):
		reason, e = RefusedMaxConnecting, &httpError{Status: http.StatusTooManyRequests, Code: "busy",
			Message: fmt.Sprintf("%d viewers are connecting already; try again shortly", s.connecting), RetryAfter: 1}
	case capped(q.connectingBy[k.addr], c.MaxConnectingPerIP):
		reason, e = RefusedMaxConnectingPerIP, &httpError{Status: http.StatusTooManyRequests, Code: "busy",
			Message: fmt.Sprintf("%d viewers from your address are connecting already; try again shortly", q.connectingBy[k.addr]), RetryAfter: 1}
	default:
		return nil
	}
	q.refused[reason]++
	return e
}

// takeLocked counts a reserved (connecting) viewer.
func (s *Server) takeLocked(k quotaKey) {
	q := &s.quota
	if k.invite != "" {
		q.byInvite[k.invite]++
	}
	q.byAddr[k.addr]++
	q.connectingBy[k.addr]++
}

// connectedLocked moves a viewer out of its address's connecting count.
func (s *Server) connectedLocked(k quotaKey) {
	decr(s.quota.connectingBy, k.addr)
}

// dropLocked uncounts a viewer that ended or was never made.
func (s *Server) dropLocked(k quotaKey, connected bool) {
	q := &s.quota
	if k.invite != "" {
		decr(q.byInvite, k.invite)
	}
	decr(q.byAddr, k.addr)
	if !connected {
		decr(q.connectingBy, k.addr)
	}
}

func decr(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

// Refused counts the viewers refused by each cap, for
// diemcau_conn_refused_total{listener="whep"}.
func (s *Server) Refused() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(refusedReasons))
	for _, r := range refusedReasons {
		out[r] = s.quota.refused[r]
	}
	return out
}

// Open is the number of viewers answered, connected or not yet.
func (s *Server) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.viewers)
}

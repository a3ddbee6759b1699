package control

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"diemcau/ingest/connlimit"
)

// ConnCounter is one listener's refusals, for diemcau_conn_refused_total:
// the RTSP server's, the WHEP server's (viewers refused by its caps). The
// HTTP server's own is always there.
type ConnCounter struct {
	// Listener is the label: "rtsp", "whep".
	Listener string
	// Refused returns the count by reason; every reason it can give should
	// be present, zeros included, so the series exist from the start.
	Refused func() map[string]uint64
	// Open, when set, is the number of connections (or viewers) open now.
	Open func() int
}

// AddConnCounter adds a listener's refusals to /metrics. Call before Run.
func (s *Server) AddConnCounter(c ConnCounter) {
	s.connCounters.Lock()
	defer s.connCounters.Unlock()
	s.connCounters.list = append(s.connCounters.list, c)
}

type connCounters struct {
	sync.Mutex
	list []ConnCounter
}

// connCollector reads the counters at scrape time.
type connCollector struct {
	s             *Server
	refused, open *prometheus.Desc
}

func newConnCollector(s *Server) *connCollector {
	return &connCollector{
		s: s,
		refused: prometheus.NewDesc("diemcau_conn_refused_total",
			"Connections (or WHEP viewers) refused or closed by a limit, by listener and reason.", []string{"listener", "reason"}, nil),
		open: prometheus.NewDesc("diemcau_conns_open", "Connections (or WHEP viewers) open now, by listener.", []string{"listener"}, nil),
	}
}

func (c *connCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.refused
	ch <- c.open
}

func (c *connCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.connCounters.Lock()
	list := slices.Clone(c.s.connCounters.list)
	c.s.connCounters.Unlock()
	list = append(list, ConnCounter{Listener: "http", Refused: c.s.httpRefused, Open: func() int {
		if cl := c.s.conns.Load(); cl != nil {
			return cl.Open()
		}
		return 0
	}})
	for _, l := range list {
		refused := l.Refused()
		reasons := make([]string, 0, len(refused))
		for r := range refused {
			reasons = append(reasons, r)
		}
		slices.Sort(reasons)
		for _, r := range reasons {
			ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(refused[r]), l.Listener, r)
		}
		if l.Open != nil {
			ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(l.Open()), l.Listener)
		}
	}
}

// httpRefused: net/http closes connections that send no request itself
// (ReadHeaderTimeout), unseen by the listener, so that reason is left out.
func (s *Server) httpRefused() map[string]uint64 {
	out := map[string]uint64{}
	if cl := s.conns.Load(); cl != nil {
		out = cl.Refused()
	}
	for _, r := range connlimit.Reasons {
		if _, ok := out[r]; !ok {
			out[r] = 0
		}
	}
	delete(out, connlimit.ReasonFirstRequestTimeout)
	return out
}

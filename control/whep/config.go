package whep

import (
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strings"
	"time"

	"diemcau/internal/fielderr"
)

// Defaults of Config, applied by New where a field is zero.
const (
	DefaultMaxViewers         = 1000
	DefaultMaxConnecting      = 64
	DefaultMaxViewersPerToken = 100 // a tenth of the default capacity
	DefaultMaxViewersPerIP    = 100
	DefaultMaxConnectingPerIP = 16 // a quarter of the connecting slots
	DefaultConnectTimeout     = 20 * time.Second
	DefaultDisconnectTimeout  = 10 * time.Second
	DefaultVideoRing          = 4096 // packets: about 20 s of 2 Mbps, 5 s of 8 Mbps
	DefaultAudioRing          = 512  // packets: about 10 s of 20 ms frames
	DefaultTCPWriteBuffer     = 512 << 10
	maxSenders                = 256
)

// ICEServer is a STUN or TURN server handed to viewers (webrtc.ice_servers).
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// Config is the WHEP server's.
type Config struct {
	// UDPPort is webrtc.udp_port: the one UDP port all ICE traffic of every
	// viewer goes through. 0 picks a free port (tests).
	UDPPort int
	// ListenIPs are the local addresses the port is bound on, one socket
	// each so a reply leaves from the address the browser sent to. Empty:
	// every non-loopback unicast address of the host (loopback when there is
	// no other).
	ListenIPs []string
	// DisableTCP turns off ICE-TCP, the fallback on the same port number for
	// viewers whose networks block UDP. Default: enabled.
	DisableTCP bool
	// PublicIPs are NAT 1:1 addresses advertised instead of the local ones
	// (webrtc.public_ips).
	PublicIPs []string
	// ICEServers are handed to viewers in Link headers (webrtc.ice_servers).
	ICEServers []ICEServer

	// MaxViewers caps viewers of all streams together
	// (webrtc.max_viewers). Default 1000. Like every cap here: 0 takes
	// the default, negative turns it off.
	MaxViewers int
	// MaxConnecting caps viewers answered but not yet connected, so a flood
	// of offers cannot pin memory (webrtc.max_connecting). Default 64.
	MaxConnecting int
	// MaxViewersPerToken caps the viewers, connected or connecting, that
	// one invite token holds: a link passed around, or leaked, cannot
	// take the server's capacity (webrtc.max_viewers_per_token). API
	// tokens are the operators' own and are not capped. Default 100.
	MaxViewersPerToken int
	// MaxViewersPerIP caps the viewers from one address, an IPv6 /64
	// counting as one (webrtc.max_viewers_per_ip). Default 100. Mobile
	// carriers put many subscribers behind one address: raise it for a
	// public broadcast.
	MaxViewersPerIP int
	// MaxConnectingPerIP caps one address's share of MaxConnecting
	// (webrtc.max_connecting_per_ip), so one host's offers cannot keep
	// everyone else from connecting. Default 16.
	MaxConnectingPerIP int
	// ConnectTimeout reaps a viewer that never connects. Default 20 s.
	ConnectTimeout time.Duration
	// DisconnectTimeout reaps a viewer whose network went silent: ICE calls
	// it disconnected after 5 s without a packet from it, and failed (the
	// viewer is reaped) DisconnectTimeout later. Default 10 s.
	DisconnectTimeout time.Duration

	// VideoRing and AudioRing are the packets kept per stream for
	// retransmission (NACK) and for a new viewer's start at the last
	// keyframe. Powers of two. Defaults 4096 and 512.
	VideoRing, AudioRing int
	// DisableGSO sends every datagram on its own even where the kernel can
	// segment a viewer's packets of a frame in one send (benchmarks, or a
	// network path that mishandles it).
	DisableGSO bool
	// TCPWriteBuffer bounds the bytes queued for one ICE-TCP viewer; past
	// it that viewer loses packets instead of slowing the others.
	// Default 512 KiB.
	TCPWriteBuffer int
	// Senders is how many goroutines write one stream's packets to its
	// viewers, the viewers spread evenly over them (webrtc.senders).
	// Default: one per core (GOMAXPROCS); 1 is the single sender of
	// earlier versions, kept for comparison.
	Senders int
}

// Validate names the first bad field by its key under webrtc.
func (c Config) Validate() error {
	if c.UDPPort < 0 || c.UDPPort > 65535 {
		return fielderr.New("udp_port", "%d is not a port", c.UDPPort)
	}
	for i, ip := range c.ListenIPs {
		if net.ParseIP(ip) == nil {
			return fielderr.New(fmt.Sprintf("listen_ips[%d]", i), "%q is not an IP address", ip)
		}
	}
	for i, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			return fielderr.New(fmt.Sprintf("public_ips[%d]", i), "%q is not an IP address", ip)
		}
	}
	for i, s := range c.ICEServers {
		if len(s.URLs) == 0 {
			return fielderr.New(fmt.Sprintf("ice_servers[%d]", i), "no URL")
		}
		for j, u := range s.URLs {
			if err := checkICEURL(u); err != nil {
				return fielderr.New(fmt.Sprintf("ice_servers[%d].urls[%d]", i, j), "%w", err)
			}
			if strings.HasPrefix(u, "turn") && s.Username == "" {
				return fielderr.New(fmt.Sprintf("ice_servers[%d]", i), "TURN needs a username and credential")
			}
		}
	}
	if c.ConnectTimeout < 0 || c.DisconnectTimeout < 0 {
		return fielderr.New("connect_timeout", "the timeouts must not be negative")
	}
	for _, r := range []struct {
		key string
		n   int
	}{{"video_ring", c.VideoRing}, {"audio_ring", c.AudioRing}} {
		if r.n < 0 || (r.n > 0 && (r.n&(r.n-1) != 0 || r.n < 64 || r.n > 1<<15)) {
			return fielderr.New(r.key, "%d is not a power of two between 64 and 32768", r.n)
		}
	}
	if c.TCPWriteBuffer < 0 {
		return fielderr.New("tcp_write_buffer", "must not be negative")
	}
	if c.Senders < 0 || c.Senders > maxSenders {
		return fielderr.New("senders", "%d is not between 0 (one per core) and %d", c.Senders, maxSenders)
	}
	return nil
}

// ParseICEServers reads webrtc.ice_servers as the config file writes them:
// one URL each, a TURN server's credentials as user info
// ("turn:user:secret@turn.example.net:3478?transport=udp").
func ParseICEServers(urls []string) ([]ICEServer, error) {
	out := make([]ICEServer, 0, len(urls))
	for i, u := range urls {
		s := ICEServer{URLs: []string{u}}
		scheme, rest, ok := strings.Cut(u, ":")
		if at := strings.LastIndexByte(rest, '@'); ok && at >= 0 {
			user, cred, _ := strings.Cut(rest[:at], ":")
			s = ICEServer{URLs: []string{scheme + ":" + rest[at+1:]}, Username: user, Credential: cred}
		}
		if err := checkICEURL(s.URLs[0]); err != nil {
			return nil, fielderr.New(fmt.Sprintf("ice_servers[%d]", i), "%w", err)
		}
		out = append(out, s)
	}
	return out, nil
}

func checkICEURL(u string) error {
	scheme, rest, ok := strings.Cut(u, ":")
	if !ok || rest == "" {
		return fmt.Errorf("%q is not a stun:, stuns:, turn: or turns: URL", u)
	}
	switch scheme {
	case "stun", "stuns", "turn", "turns":
	default:
		return fmt.Errorf("%q: scheme %q is not stun, stuns, turn or turns", u, scheme)
	}
	host := rest
	if i := strings.IndexByte(host, '?'); i >= 0 {
		host = host[:i]
	}
	if _, err := url.Parse("x://" + host); err != nil || host == "" {
		return fmt.Errorf("%q: bad host", u)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxViewers == 0 {
		c.MaxViewers = DefaultMaxViewers
	}
	if c.MaxConnecting == 0 {
		c.MaxConnecting = DefaultMaxConnecting
	}
	if c.MaxViewersPerToken == 0 {
		c.MaxViewersPerToken = DefaultMaxViewersPerToken
	}
	if c.MaxViewersPerIP == 0 {
		c.MaxViewersPerIP = DefaultMaxViewersPerIP
	}
	if c.MaxConnectingPerIP == 0 {
		c.MaxConnectingPerIP = DefaultMaxConnectingPerIP
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.DisconnectTimeout == 0 {
		c.DisconnectTimeout = DefaultDisconnectTimeout
	}
	if c.VideoRing == 0 {
		c.VideoRing = DefaultVideoRing
	}
	if c.AudioRing == 0 {
		c.AudioRing = DefaultAudioRing
	}
	if c.TCPWriteBuffer == 0 {
		c.TCPWriteBuffer = DefaultTCPWriteBuffer
	}
	if c.Senders == 0 {
		c.Senders = min(runtime.GOMAXPROCS(0), maxSenders)
	}
	return c
}

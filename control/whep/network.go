package whep

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"diemcau/internal/fielderr"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// network is the server's side of ICE: one UDP port (a socket per local
// address) shared by every viewer through pion's UDP mux, and ICE-TCP on
// the same port number.
type network struct {
	group   *batchGroup
	udpMux  *ice.MultiUDPMuxDefault
	tcpLn   net.Listener
	tcpMux  ice.TCPMux
	port    int
	addrs   []net.Addr
	setting webrtc.SettingEngine
}

func openNetwork(cfg Config, log *slog.Logger) (*network, error) {
	ips, err := listenIPs(cfg.ListenIPs)
	if err != nil {
		return nil, err
	}
	// A port picked by the kernel for UDP may be taken for TCP: pick again.
	for attempt := 0; ; attempt++ {
		n, err := openPort(cfg, ips, log)
		if err == nil || cfg.UDPPort != 0 || attempt == 20 || !errors.Is(err, errTCPPortTaken) {
			return n, err
		}
	}
}

var errTCPPortTaken = errors.New("the TCP port of the same number is taken")

func openPort(cfg Config, ips []net.IP, log *slog.Logger) (*network, error) {
	n := &network{group: newBatchGroup(cfg.Senders), port: cfg.UDPPort}
	pionLog := pionLogs{log: log}
	var muxes []ice.UDPMux
	loopback := false
	for _, ip := range ips {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: n.port})
		if err != nil {
			n.close()
			return nil, fielderr.New("udp_port", "listen %s: %w", net.JoinHostPort(ip.String(), strconv.Itoa(n.port)), err)
		}
		if n.port == 0 {
			n.port = conn.LocalAddr().(*net.UDPAddr).Port
		}
		loopback = loopback || ip.IsLoopback()
		n.addrs = append(n.addrs, conn.LocalAddr())
		bc := newBatchConn(conn, n.group, !cfg.DisableGSO)
		muxes = append(muxes, ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: bc, Logger: pionLog.NewLogger("udpmux")}))
	}
	n.udpMux = ice.NewMultiUDPMuxDefault(muxes...)

	se := webrtc.SettingEngine{LoggerFactory: pionLog}
	se.SetICEUDPMux(n.udpMux)
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if !cfg.DisableTCP {
		// One listener on every address: TCP is connection-oriented, so the
		// reply-address problem that makes UDP bind per address does not arise.
		ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(n.port)))
		if err != nil {
			n.close()
			return nil, fielderr.New("udp_port", "ICE-TCP on the same port %d: %w: %w", n.port, errTCPPortTaken, err)
		}
		n.tcpLn = ln
		n.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{
			Listener:        ln,
			Logger:          pionLog.NewLogger("tcpmux"),
			ReadBufferSize:  8,
			WriteBufferSize: cfg.TCPWriteBuffer,
		})
		se.SetICETCPMux(n.tcpMux)
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(types)
	// TCP candidates come from interface addresses: keep them to the
	// addresses the UDP port is bound on.
	allowed := make(map[string]bool, len(ips))
	for _, ip := range ips {
		allowed[ip.String()] = true
	}
	se.SetIPFilter(func(ip net.IP) bool { return allowed[ip.String()] })
	se.SetIncludeLoopbackCandidate(loopback)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(5*time.Second, cfg.DisconnectTimeout, 2*time.Second)
	// AES-GCM first: with AES-NI it is the cheapest per packet, and every
	// packet is encrypted once per viewer.
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	// Each viewer gets a MediaEngine of its own (codecs follow its stream),
	// so pion need not copy it again.
	se.DisableMediaEngineCopy(true)
	if len(cfg.PublicIPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        cfg.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			n.close()
			return nil, fielderr.New("public_ips", "%w", err)
		}
	}
	n.setting = se
	return n, nil
}

// tcpMuxCloseWait bounds the wait for pion's ICE-TCP mux to close.
const tcpMuxCloseWait = 2 * time.Second

func (n *network) close() {
	var errs []error
	if n.udpMux != nil {
		errs = append(errs, n.udpMux.Close())
	} else {
		for _, c := range n.group.conns {
			errs = append(errs, c.Close())
		}
	}
	if n.tcpMux != nil {
		// pion's TCP mux waits for every connection it made to close, and
		// one it replaced in its table (a browser's second ICE-TCP attempt
		// from the same address) is never closed: Close then waits
		// forever, and so would the server's shutdown. Bound the wait.
		done := make(chan error, 1)
		go func() { done <- n.tcpMux.Close() }()
		select {
		case err := <-done:
			errs = append(errs, err)
		case <-time.After(tcpMuxCloseWait):
			errs = append(errs, fmt.Errorf("ICE-TCP mux: still closing after %v; left behind", tcpMuxCloseWait))
		}
	}
	if n.tcpLn != nil {
		_ = n.tcpLn.Close()
	}
	_ = errors.Join(errs...)
}

// listenIPs resolves Config.ListenIPs; empty means every usable unicast
// address of the host.
func listenIPs(cfg []string) ([]net.IP, error) {
	if len(cfg) > 0 {
		ips := make([]net.IP, len(cfg))
		for i, s := range cfg {
			ips[i] = net.ParseIP(s)
		}
		return ips, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("webrtc: list interface addresses: %w", err)
	}
	var ips []net.IP
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip := ipn.IP
		// Link-local IPv6 needs a zone that ICE candidates cannot carry.
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
			continue
		}
		ips = append(ips, ip)
	}
	if len(ips) == 0 {
		ips = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	return ips, nil
}

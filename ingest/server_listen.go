package ingest

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// serverListeners are the sockets opened before gortsplib starts: the RTSP
// TCP listener and, unless UDP is off, an RTP/RTCP pair on consecutive ports.
type serverListeners struct {
	tcp       net.Listener
	rtp, rtcp *net.UDPConn
}

func (s *Server) listen() (*serverListeners, error) {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, err
	}
	l := &serverListeners{tcp: s.connLimits(ln)}
	if s.cfg.UDPRTPAddress == udpDisabled {
		return l, nil
	}
	host, port, err := s.udpRTPHostPort(ln.Addr())
	if err != nil {
		l.close()
		return nil, err
	}
	l.rtp, l.rtcp, err = listenUDPPair(host, port)
	if err != nil {
		l.close()
		return nil, fmt.Errorf("udp: %w", err)
	}
	return l, nil
}

// udpRTPHostPort derives the RTP address: the configured one, or the host
// and port number of the TCP listener (made even, as RTP wants).
func (s *Server) udpRTPHostPort(tcp net.Addr) (string, int, error) {
	if s.cfg.UDPRTPAddress != "" {
		return splitHostPort(s.cfg.UDPRTPAddress)
	}
	host, asked, err := splitHostPort(s.cfg.Listen)
	if err != nil {
		return "", 0, err
	}
	if asked == 0 {
		return host, 0, nil // the TCP port was picked at random: pick the pair the same way
	}
	_, port, err := splitHostPort(tcp.String())
	if err != nil {
		return "", 0, err
	}
	if port%2 != 0 {
		port++
	}
	if port >= 65535 {
		return "", 0, fmt.Errorf("no UDP port pair above %d; set the UDP RTP address", port)
	}
	return host, port, nil
}

// listenUDPPair opens RTP on an even port and RTCP on the next one; port 0
// picks a free pair.
func listenUDPPair(host string, port int) (*net.UDPConn, *net.UDPConn, error) {
	if port != 0 {
		rtp, err := listenUDP(host, port)
		if err != nil {
			return nil, nil, err
		}
		rtcp, err := listenUDP(host, port+1)
		if err != nil {
			rtp.Close()
			return nil, nil, err
		}
		return rtp, rtcp, nil
	}
	for range maxUDPPairAttempts {
		rtp, err := listenUDP(host, 0)
		if err != nil {
			return nil, nil, err
		}
		p := rtp.LocalAddr().(*net.UDPAddr).Port
		if p%2 != 0 || p >= 65535 {
			rtp.Close()
			continue
		}
		rtcp, err := listenUDP(host, p+1)
		if err != nil {
			rtp.Close()
			continue
		}
		return rtp, rtcp, nil
	}
	return nil, nil, errors.New("no free RTP/RTCP port pair found")
}

func listenUDP(host string, port int) (*net.UDPConn, error) {
	pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// packetConn is gortsplib's ListenPacket: it returns the socket opened for
// the port asked for.
func (l *serverListeners) packetConn(_, address string) (net.PacketConn, error) {
	_, port, err := splitHostPort(address)
	if err != nil {
		return nil, err
	}
	for _, c := range []*net.UDPConn{l.rtp, l.rtcp} {
		if c != nil && c.LocalAddr().(*net.UDPAddr).Port == port {
			return c, nil
		}
	}
	return nil, fmt.Errorf("no socket opened for %s", address)
}

func (l *serverListeners) close() {
	if l.tcp != nil {
		l.tcp.Close()
	}
	if l.rtp != nil {
		l.rtp.Close()
	}
	if l.rtcp != nil {
		l.rtcp.Close()
	}
}

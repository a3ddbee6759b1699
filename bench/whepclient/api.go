// Package whepclient is the WHEP viewer the load scenarios run: a lean pion
// receiver on loopback, the offer and answer over HTTP, and DELETE at the
// end. What a viewer does with the packets is its caller's: bench/relay's
// load generator counts them, bench/harness's reference viewer counts
// whole frames.
package whepclient

import (
	"io"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// NewAPI is a lean receiver: no interceptors, loopback only, and sockets
// with large receive buffers, so a load generator that is briefly
// descheduled on a busy machine does not drop what the server sent.
func NewAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	std, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{LoggerFactory: quietPion{}}
	se.SetNet(bigBufferNet{std})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(&interceptor.Registry{})), nil
}

// bigBufferNet gives every UDP socket pion opens a 1 MiB receive buffer.
type bigBufferNet struct{ *stdnet.Net }

func (n bigBufferNet) ListenUDP(network string, addr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, addr)
	if err == nil {
		_ = c.SetReadBuffer(1 << 20)
	}
	return c, err
}

type quietPion struct{}

func (quietPion) NewLogger(string) logging.LeveledLogger {
	return logging.NewDefaultLeveledLoggerForScope("", logging.LogLevelDisabled, io.Discard)
}

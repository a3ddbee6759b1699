package proctest

import (
	"fmt"
	"net"
	"testing"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreePortPair returns a loopback port, free over TCP, whose UDP port and
// the next are free too (RTSP over UDP uses the listen port and the next
// for RTP and RTCP).
func FreePortPair(t testing.TB) int {
	t.Helper()
	for range 50 {
		p := FreePort(t)
		if udpFree(p) && udpFree(p+1) {
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}

func udpFree(port int) bool {
	u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	u.Close()
	return true
}

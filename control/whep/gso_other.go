//go:build !linux

package whep

import "net"

const gsoCmsgSpace = 0

func gsoSupported(*net.UDPConn) bool { return false }

func appendGSOCmsg(b []byte, _ int) []byte { return b }

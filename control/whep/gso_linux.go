package whep

import (
	"encoding/binary"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// gsoCmsgSpace is the room a UDP_SEGMENT control message takes.
var gsoCmsgSpace = unix.CmsgSpace(2)

// gsoSupported asks the kernel whether the socket can do UDP GSO (Linux
// 4.18 and later).
func gsoSupported(conn *net.UDPConn) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	_ = rc.Control(func(fd uintptr) {
		_, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		ok = err == nil
	})
	return ok
}

// appendGSOCmsg adds the control message that tells the kernel to cut the
// payload into datagrams of size bytes. b must be empty with room for
// gsoCmsgSpace bytes (so the header is aligned).
func appendGSOCmsg(b []byte, size int) []byte {
	b = b[:gsoCmsgSpace]
	clear(b)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(size))
	return b
}

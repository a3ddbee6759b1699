package main

import (
	"fmt"
	"os"
	"runtime"
)

// secretFileProblems refuses a TLS private key every user of the machine
// may read: with it, anyone there can pose as the server and collect the
// operators' tokens. Group read stays allowed for Debian's ssl-cert
// convention (0640 root:ssl-cert). The archive key is the recorder's to
// check (stricter: no group either).
func (c *Config) secretFileProblems() []error {
	path := c.HTTP.TLS.Key
	if path == "" || runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil // fileExists reports it
	}
	if perm := fi.Mode().Perm(); perm&0o006 != 0 {
		return []error{fmt.Errorf("http.tls.key: %s is open to every user (mode %04o); chmod 600 %s (or 640 with the ssl-cert group)", path, perm, path)}
	}
	return nil
}

package recorder

import (
	"fmt"
	"os"
	"runtime"
)

// checkKeyFile refuses a signing key that others on the machine may read
// or change: whoever reads it can sign a forged run that verifies as the
// server's, and a seal proves authorship only while the key is the
// server's alone.
func checkKeyFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if runtime.GOOS == "windows" {
		return nil // no Unix permission bits; ACLs are the administrator's
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s is open to group or others (mode %04o): anyone who reads it can sign a forged run; make it the server's alone: chmod 600 %s", path, perm, path)
	}
	return nil
}

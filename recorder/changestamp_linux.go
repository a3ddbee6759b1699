package recorder

import (
	"fmt"
	"io/fs"
	"syscall"
)

// changeStamp is a file's inode and change time: unlike the modification
// time, nothing but a change to the file sets them.
func changeStamp(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d %d.%d", st.Ino, st.Ctim.Sec, st.Ctim.Nsec)
}

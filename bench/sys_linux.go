package bench

import "syscall"

// tmpfsMagic is the statfs type of tmpfs (linux/magic.h).
const tmpfsMagic = 0x01021994

// memoryBacked reports whether dir is on tmpfs, where fsync costs nothing.
func memoryBacked(dir string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Type == tmpfsMagic
}

//go:build !linux

package bench

// memoryBacked reports whether dir is on a memory filesystem; unknown here.
func memoryBacked(string) bool { return false }

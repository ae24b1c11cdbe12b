package main

import "syscall"

// sctpSupported reports whether the kernel can open an SCTP socket (RFC 4960):
// without the sctp module socket(2) fails with EPROTONOSUPPORT.
func sctpSupported() bool {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, syscall.IPPROTO_SCTP)
	if err != nil {
		return false
	}
	_ = syscall.Close(fd)
	return true
}

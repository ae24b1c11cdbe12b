//go:build !linux

package main

// sctpSupported: go-diameter's SCTP transport is Linux only.
func sctpSupported() bool { return false }

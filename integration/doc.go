// Package integration holds the end-to-end tests of rcmhss: they build the
// binaries of ./cmd, start them as real processes on loopback port-0 listeners
// next to real peers (redis-server, freeDiameter, tshark), and check what an
// operator or a peer would see. A test skips, with a message naming the
// binary, only when an external program it needs is not installed; CI
// (.ci/run) installs them all so that nothing is skipped there.
//
// rcmhss_harness_test.go builds and runs rcmhss nodes for every test here
// (StartNode, Node.Do, Node.Stop); quickstart_test.go proves the README. With
// RCMHSS_INTEGRATION_RACE=1 the binaries are built with the race detector.
package integration

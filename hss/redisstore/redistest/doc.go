// Package redistest starts a real redis-server for tests: on a free loopback
// port, without persistence, stopped by t.Cleanup. When redis-server is not on
// PATH the test is skipped with a clear message, except under CI (env CI set),
// where a missing binary fails the test: CI installs it so that nothing is
// skipped there.
package redistest

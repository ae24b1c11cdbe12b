package redisstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...interface{}) {}

// TestMain silences go-redis's own logger: the tests that stop Redis on purpose
// would otherwise fill the output with dial failures they assert on anyway.
func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}

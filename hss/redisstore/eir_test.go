package redisstore_test

import (
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

func TestEIRConformance(t *testing.T) {
	addr := redistest.Start(t)
	storetest.RunEIR(t, func(t *testing.T) hss.EIRStore {
		return newStore(t, addr, hss.NewPlaintextSealer()).EIR()
	})
}

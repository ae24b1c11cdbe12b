package memstore_test

import (
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

func TestEIRConformance(t *testing.T) {
	storetest.RunEIR(t, func(t *testing.T) hss.EIRStore { return memstore.NewEIR() })
}

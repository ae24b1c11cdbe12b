package memstore_test

import (
	"testing"

	"github.com/rcmhss/rcmhss/rcm"
	"github.com/rcmhss/rcmhss/rcm/memstore"
	"github.com/rcmhss/rcmhss/rcm/storetest"
)

func TestProvisioningConformance(t *testing.T) {
	storetest.RunProvisioning(t, func(*testing.T) rcm.ProvisioningStore { return memstore.NewProvisioning() })
}

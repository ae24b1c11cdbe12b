package memstore_test

import (
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
	"github.com/rcmhss/rcmhss/hss/storetest"
)

func TestConformance(t *testing.T) {
	kek := make([]byte, hss.KEKSize)
	for i := range kek {
		kek[i] = byte(i)
	}
	sealer, err := hss.NewKeySealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("KEK", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) hss.Store { return memstore.New(sealer) })
	})
	t.Run("Plaintext", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) hss.Store { return memstore.New(hss.NewPlaintextSealer()) })
	})
}

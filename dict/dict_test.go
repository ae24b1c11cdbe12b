package dict

import (
	"testing"

	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"
)

func TestLoadEveryEmbeddedFile(t *testing.T) {
	if len(Files()) == 0 {
		t.Fatal("no embedded dictionary file")
	}
	p, err := diamdict.NewParser()
	if err != nil {
		t.Fatal(err)
	}
	if err := Load(p); err != nil {
		t.Fatalf("Load: %v", err)
	}
}

func TestDefaultLoadsOnce(t *testing.T) {
	// A second load into the same parser would fail on redefined commands if
	// any file defines one; Default must be idempotent.
	if err := Default(); err != nil {
		t.Fatalf("first Default: %v", err)
	}
	if err := Default(); err != nil {
		t.Fatalf("second Default: %v", err)
	}
	// The base dictionary is still usable afterwards.
	if _, err := diamdict.Default.FindCommand(0, 257); err != nil {
		t.Fatalf("CER missing from default dictionary: %v", err)
	}
}

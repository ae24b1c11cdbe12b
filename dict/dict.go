package dict

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"sync"

	diamdict "github.com/fiorix/go-diameter/v4/diam/dict"
)

// files holds every dictionary of this directory (00_empty.xml keeps the
// pattern valid while no other file exists).
//
//go:embed *.xml
var files embed.FS

// Files returns the names of the embedded dictionary files in load order.
func Files() []string {
	names, err := fs.Glob(files, "*.xml")
	if err != nil {
		// fs.Glob only fails on a malformed pattern, and ours is constant.
		panic(fmt.Sprintf("dict: glob: %v", err))
	}
	sort.Strings(names)
	return names
}

// Load loads every embedded dictionary file into p, in lexical order. It must
// run before p is used to decode messages: go-diameter's parser must never be
// loaded concurrently with lookups.
func Load(p *diamdict.Parser) error {
	for _, name := range Files() {
		b, err := files.ReadFile(name)
		if err != nil {
			return fmt.Errorf("dict: load %s: %w", name, err)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if err := p.Load(bytes.NewReader(b)); err != nil {
			return fmt.Errorf("dict: load %s: %w", name, err)
		}
	}
	return nil
}

var (
	defaultOnce sync.Once
	defaultErr  error
)

// Default loads the embedded dictionaries into diamdict.Default exactly once
// per process and returns the outcome of that single load. Loading twice would
// fail: go-diameter refuses to redefine a command.
func Default() error {
	defaultOnce.Do(func() { defaultErr = Load(diamdict.Default) })
	return defaultErr
}

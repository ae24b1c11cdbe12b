// Command diamload is a Diameter load generator for S6a, SWx and S13, with a
// bulk provisioning command for rcmhss and a baseline responder; see
// docs/diamload.md. The logic lives in package diameter/loadgen.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rcmhss/rcmhss/diameter/loadgen"
)

func main() {
	// Ctrl-C ends the run early; the summary of what was done is printed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default so that a second Ctrl-C
	// kills a run whose peer does not let it finish.
	context.AfterFunc(ctx, stop)
	code := loadgen.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

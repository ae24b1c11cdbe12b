// Command rcmdevice is a simulated RCM device with the MME in front of it
// (issue 6): it walks a device from the guest identity to its own
// subscription (RCM.md figure 6) against a running rcmhss, or many devices
// at once for load, and generates the demo PKI ("rcmdevice pki").
// The logic is in package diameter/mmesim.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rcmhss/rcmhss/diameter/mmesim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := mmesim.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

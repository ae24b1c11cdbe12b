package diameter

import (
	"strconv"
	"sync/atomic"
	"time"
)

// The Session-Ids of the requests this process originates (CLR, IDR, DSR,
// PPR, RTR) come from one counter, whichever application sends them, so that
// two applications never hand out the same id; the start time keeps them
// unique across restarts.
var (
	sessionBoot    = strconv.FormatInt(time.Now().Unix(), 10)
	sessionCounter atomic.Uint64
)

// NewSessionID returns a fresh Session-Id for a request originated as host:
// <DiameterIdentity>;<high 32 bits>;<low 32 bits> (RFC 6733 8.8), the high
// part the process start time, the low part a process-wide counter.
func NewSessionID(host string) string {
	return host + ";" + sessionBoot + ";" + strconv.FormatUint(sessionCounter.Add(1), 10)
}

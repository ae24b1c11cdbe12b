package s6a

import (
	"context"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/rcmhss/rcmhss/diameter"
	"github.com/rcmhss/rcmhss/hss"
)

// Extension answers the AIR and ULR of the IMSIs it claims in place of the
// Backend (PRODUCT.md: RCM "plugs into the authentication and location paths
// as an extension (it claims guest IMSIs and binds KASME)"). The plugin still
// decodes the request, encodes the vectors and the Subscription-Data, and
// picks every code through diameter.ResultFor; the extension sees the raw
// request for its own AVPs.
type Extension interface {
	// Claims reports whether imsi is the extension's, for every AIR and ULR.
	Claims(imsi hss.IMSI) bool
	// AuthenticationInfo answers a claimed AIR: the vectors, and AVPs to add
	// to the AIA after Authentication-Info.
	AuthenticationInfo(ctx context.Context, req *diameter.Request, air hss.AuthInfoRequest) (hss.AuthInfo, []*diam.AVP, error)
	// UpdateLocation answers a claimed ULR.
	UpdateLocation(ctx context.Context, req *diameter.Request, ulr hss.UpdateLocationRequest) (hss.UpdateLocationResult, error)
}

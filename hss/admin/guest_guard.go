package admin

import (
	"context"
	"fmt"

	"github.com/rcmhss/rcmhss/hss"
)

// GuestGuard wraps the Service behind the subscriber API so that no IMSI of
// an RCM guest range can be created, read, changed, deleted or listed through
// it (issue 5: "a guest IMSI is never a normal subscriber";
// docs/rcm-crypto.md section 8). The HSS does keep one internal record per
// guest IMSI, for its SQN state, which diameter/rcmext creates from the guest
// range alone and never reads for the ULA (docs/rcm.md); this guard keeps
// operators and imports away from those records. isGuest is
// rcm.Service.IsGuest.
//
// Creating (or importing) a guest IMSI is a 400 naming the field; the
// per-IMSI routes answer 404, as if the record did not exist; a list page
// leaves guest IMSIs out (a page can then be shorter than the limit, and its
// next cursor still continues after them).
func GuestGuard(svc Service, isGuest func(hss.IMSI) bool) Service {
	return guestGuard{svc: svc, isGuest: isGuest}
}

type guestGuard struct {
	svc     Service
	isGuest func(hss.IMSI) bool
}

func (g guestGuard) hidden(op string, imsi hss.IMSI) error {
	if g.isGuest(imsi) {
		return fmt.Errorf("admin: %s: %w", op, hss.ErrUnknownSubscriber)
	}
	return nil
}

func (g guestGuard) CreateSubscriber(ctx context.Context, s *hss.Subscriber) error {
	if s != nil && g.isGuest(s.IMSI) {
		return &hss.ValidationError{Field: "imsi", Reason: "is in an RCM guest range: a guest identity is never a subscriber"}
	}
	return g.svc.CreateSubscriber(ctx, s)
}

func (g guestGuard) GetSubscriber(ctx context.Context, imsi hss.IMSI) (*hss.Subscriber, error) {
	if err := g.hidden("get subscriber", imsi); err != nil {
		return nil, err
	}
	return g.svc.GetSubscriber(ctx, imsi)
}

func (g guestGuard) Registrations(ctx context.Context, imsi hss.IMSI) (hss.Registrations, error) {
	if err := g.hidden("registrations", imsi); err != nil {
		return hss.Registrations{}, err
	}
	return g.svc.Registrations(ctx, imsi)
}

func (g guestGuard) UpdateSubscriber(ctx context.Context, imsi hss.IMSI, fn func(*hss.Subscriber) error) (*hss.Subscriber, error) {
	if err := g.hidden("update subscriber", imsi); err != nil {
		return nil, err
	}
	return g.svc.UpdateSubscriber(ctx, imsi, fn)
}

func (g guestGuard) DeleteSubscriber(ctx context.Context, imsi hss.IMSI) error {
	if err := g.hidden("delete subscriber", imsi); err != nil {
		return err
	}
	return g.svc.DeleteSubscriber(ctx, imsi)
}

func (g guestGuard) ListSubscribers(ctx context.Context, cursor string, limit int) ([]hss.IMSI, string, error) {
	imsis, next, err := g.svc.ListSubscribers(ctx, cursor, limit)
	if err != nil {
		return nil, "", err
	}
	out := imsis[:0:0]
	for _, i := range imsis {
		if !g.isGuest(i) {
			out = append(out, i)
		}
	}
	return out, next, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
	"github.com/rcmhss/rcmhss/hss/redisstore"
)

func (c Config) redisConfig() redisstore.Config {
	r := c.Redis
	return redisstore.Config{
		Addrs: r.Addrs(), MasterName: r.MasterName, Username: r.Username, Password: r.Password,
		DB: r.DB, Cluster: r.Cluster, KeyPrefix: r.KeyPrefix,
		DialTimeout: r.DialTimeout, ReadTimeout: r.ReadTimeout, PoolSize: r.PoolSize,
		FailoverSEQJump: r.FailoverSEQJump,
		// A request's SQN reservation and MME registration happen once
		// across nodes for as long as duplicates are detected.
		RequestClaimTTL: c.Diameter.DuplicateTTL,
	}
}

// openStore returns the Redis store, or the embedded one when no Redis address
// is configured (PRODUCT.md: `go run ./cmd/rcmhss` works with nothing installed),
// with the EIR lists kept beside the subscribers in the same backend.
func openStore(ctx context.Context, c Config, sealer *hss.KeySealer, log *slog.Logger) (hss.Store, hss.EIRStore, error) {
	if len(c.Redis.Addrs()) == 0 {
		log.Info("store: embedded in-process store; state is lost when the process exits")
		return memstore.New(sealer), memstore.NewEIR(), nil
	}
	st, err := redisstore.New(ctx, c.redisConfig(), sealer)
	if err != nil {
		return nil, nil, err
	}
	log.Info("store: redis", "addrs", c.Redis.Addrs(), "sentinel_master", c.Redis.MasterName, "cluster", c.Redis.Cluster)
	return st, st.EIR(), nil
}

// storeMetrics decorates a Store with what matters to an operator: calls
// that failed because the backend (Redis) did not answer, by operation, and
// SQN reservations that found their request already handled (a copy of a
// request another node, or this one earlier, had run: nothing reserved).
// The stores themselves carry no instruments (hss imports no otel).
type storeMetrics struct {
	hss.Store
	errs     metric.Int64Counter
	replayed metric.Int64Counter
}

func newStoreMetrics(mp metric.MeterProvider, st hss.Store) (*storeMetrics, error) {
	meter := mp.Meter(instrumentationName)
	c, err := meter.Int64Counter("hss_store_errors",
		metric.WithDescription("Store calls that failed because the backend (Redis) did not answer, by operation."))
	if err != nil {
		return nil, fmt.Errorf("telemetry: store metrics: %w", err)
	}
	r, err := meter.Int64Counter("hss_sqn_reservations_replayed",
		metric.WithDescription("SQN reservations of a request already handled (same Origin-Host and End-to-End id, on any node sharing the store): the earlier reservation was returned and nothing changed, by operation."))
	if err != nil {
		return nil, fmt.Errorf("telemetry: store metrics: %w", err)
	}
	return &storeMetrics{Store: st, errs: c, replayed: r}, nil
}

func (m *storeMetrics) countReservation(ctx context.Context, op string, r hss.SQNReservation, err error) {
	m.count(ctx, op, err)
	if err == nil && r.Replayed {
		m.replayed.Add(ctx, 1, metric.WithAttributes(attribute.String("op", op)))
	}
}

func (m *storeMetrics) count(ctx context.Context, op string, err error) {
	if err != nil && errors.Is(err, hss.ErrStoreUnavailable) {
		m.errs.Add(ctx, 1, metric.WithAttributes(attribute.String("op", op)))
	}
}

func (m *storeMetrics) Ping(ctx context.Context) error {
	err := m.Store.Ping(ctx)
	m.count(ctx, "ping", err)
	return err
}

func (m *storeMetrics) CreateSubscriber(ctx context.Context, s *hss.Subscriber) error {
	err := m.Store.CreateSubscriber(ctx, s)
	m.count(ctx, "create_subscriber", err)
	return err
}

func (m *storeMetrics) GetSubscriber(ctx context.Context, imsi hss.IMSI) (*hss.Subscriber, error) {
	s, err := m.Store.GetSubscriber(ctx, imsi)
	m.count(ctx, "get_subscriber", err)
	return s, err
}

func (m *storeMetrics) UpdateSubscriber(ctx context.Context, imsi hss.IMSI, fn func(*hss.Subscriber) error) (*hss.Subscriber, error) {
	s, err := m.Store.UpdateSubscriber(ctx, imsi, fn)
	m.count(ctx, "update_subscriber", err)
	return s, err
}

func (m *storeMetrics) DeleteSubscriber(ctx context.Context, imsi hss.IMSI) (hss.Registrations, error) {
	r, err := m.Store.DeleteSubscriber(ctx, imsi)
	m.count(ctx, "delete_subscriber", err)
	return r, err
}

func (m *storeMetrics) ListSubscribers(ctx context.Context, cursor string, limit int) ([]hss.IMSI, string, error) {
	l, next, err := m.Store.ListSubscribers(ctx, cursor, limit)
	m.count(ctx, "list_subscribers", err)
	return l, next, err
}

func (m *storeMetrics) ReserveSQN(ctx context.Context, imsi hss.IMSI, node string, n int, indBits uint8) (hss.SQNReservation, error) {
	r, err := m.Store.ReserveSQN(ctx, imsi, node, n, indBits)
	m.countReservation(ctx, "reserve_sqn", r, err)
	return r, err
}

func (m *storeMetrics) ResyncSQN(ctx context.Context, imsi hss.IMSI, node string, seqMS, delta uint64, n int, indBits uint8) (hss.SQNReservation, error) {
	r, err := m.Store.ResyncSQN(ctx, imsi, node, seqMS, delta, n, indBits)
	m.countReservation(ctx, "resync_sqn", r, err)
	return r, err
}

func (m *storeMetrics) SetMMERegistration(ctx context.Context, imsi hss.IMSI, reg hss.MMERegistration) (*hss.MMERegistration, error) {
	r, err := m.Store.SetMMERegistration(ctx, imsi, reg)
	m.count(ctx, "set_mme_registration", err)
	return r, err
}

func (m *storeMetrics) UpdateMMERegistration(ctx context.Context, imsi hss.IMSI, host string, fn func(*hss.MMERegistration)) (bool, error) {
	ok, err := m.Store.UpdateMMERegistration(ctx, imsi, host, fn)
	m.count(ctx, "update_mme_registration", err)
	return ok, err
}

func (m *storeMetrics) SetAAARegistration(ctx context.Context, imsi hss.IMSI, reg *hss.AAARegistration) (*hss.AAARegistration, error) {
	r, err := m.Store.SetAAARegistration(ctx, imsi, reg)
	m.count(ctx, "set_aaa_registration", err)
	return r, err
}

func (m *storeMetrics) GetRegistrations(ctx context.Context, imsi hss.IMSI) (hss.Registrations, error) {
	r, err := m.Store.GetRegistrations(ctx, imsi)
	m.count(ctx, "get_registrations", err)
	return r, err
}

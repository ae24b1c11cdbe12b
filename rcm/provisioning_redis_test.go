package rcm_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcmhss/rcmhss/hss"
	hssredis "github.com/rcmhss/rcmhss/hss/redisstore"
	"github.com/rcmhss/rcmhss/hss/redisstore/redistest"
	"github.com/rcmhss/rcmhss/rcm"
	rcmredis "github.com/rcmhss/rcmhss/rcm/redisstore"
)

var redisPrefixN atomic.Int64

// redisNode is what one rcmhss node holds: its own connections to the shared
// redis-server, its stores, its HSS and its Provisioner.
type redisNode struct {
	st   rcm.Store
	ps   rcm.ProvisioningStore
	hss  *hss.HSS
	prov *rcm.Provisioner
}

func openRedisNode(t *testing.T, addr, prefix string) (rcm.Store, rcm.ProvisioningStore, hss.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sealer, err := newTestSealer()
	if err != nil {
		t.Fatal(err)
	}
	cfg := hssredis.Config{Addrs: []string{addr}, KeyPrefix: prefix}
	hs, err := hssredis.New(ctx, cfg, sealer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hs.Close() })
	st, err := rcmredis.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ps, err := rcmredis.NewProvisioning(rdb, prefix, sealer)
	if err != nil {
		t.Fatal(err)
	}
	return st, ps, hs
}

// newRedisEnv returns the environment on node 1 and a second node sharing the
// same redis-server.
func newRedisEnv(t *testing.T, addr string) (*provEnv, *redisNode) {
	t.Helper()
	prefix := fmt.Sprintf("pr%d:", redisPrefixN.Add(1))
	st, ps, hs := openRedisNode(t, addr, prefix)
	e := newProvEnvOn(t, st, ps, hs)
	st2, ps2, hs2 := openRedisNode(t, addr, prefix)
	n2 := &redisNode{st: st2, ps: ps2}
	var err error
	if n2.hss, err = hss.New(hss.DefaultConfig(), hs2); err != nil {
		t.Fatal(err)
	}
	sealer, _ := newTestSealer()
	if n2.prov, err = rcm.NewProvisioner(rcm.DefaultProvisioningConfig(), e.pki.Config, st2, ps2, n2.hss, e.det, sealer,
		slog.New(slog.DiscardHandler), rcm.WithProvisionerClock(e.clock)); err != nil {
		t.Fatal(err)
	}
	return e, n2
}

// TestProvisioningOnRedis runs the paths of issue 6 on a real redis-server,
// with two nodes sharing it.
func TestProvisioningOnRedis(t *testing.T) {
	addr := redistest.Start(t)

	t.Run("decline then accept across two nodes", func(t *testing.T) {
		e, n2 := newRedisEnv(t, addr)
		e.provider(t, providerA, "meters-acme", "0010100000000", "")
		e.provider(t, providerB, "meters-beta", "0010200000000", "")
		d := e.device(t, 50)
		v, err := e.prov.Start(provCtx, d.start(t))
		if err != nil || v.Offer == nil || v.Offer.ProviderID != providerA {
			t.Fatalf("start on node 1: %+v, %v", v, err)
		}
		if v, err = n2.prov.Decline(provCtx, v.ID, d.cd, v.Offer.ID); err != nil || v.Offer.ProviderID != providerB {
			t.Fatalf("decline on node 2: %+v, %v", v, err)
		}
		a1, err := e.prov.Accept(provCtx, d.accept(t, v.ID, v.Offer.ID, ""))
		if err != nil {
			t.Fatal(err)
		}
		a2, err := n2.prov.Accept(provCtx, d.accept(t, v.ID, v.Offer.ID, ""))
		if err != nil || string(a1.Sealed) != string(a2.Sealed) {
			t.Fatalf("retried accept on node 2: %v, identical %v", err, string(a1.Sealed) == string(a2.Sealed))
		}
		c := d.open(t, a1)
		if _, err := n2.prov.Confirm(provCtx, v.ID, d.cd); err != nil {
			t.Fatal(err)
		}
		// Node 1's HSS serves the subscriber node 2 swapped in.
		visited, _ := hss.PLMNFromString("00101")
		ai, err := e.hss.AuthenticationInfo(provCtx, hss.AuthInfoRequest{IMSI: c.IMSI, VisitedPLMN: visited, ServingNode: "mme1", EUTRAN: 1})
		if err != nil || len(ai.EUTRAN) != 1 {
			t.Fatalf("AIR for the new IMSI on node 1: %v", err)
		}
		res, _, _, _ := hss.NewMilenage(c.K, c.OPc).F2345(ai.EUTRAN[0].RAND)
		if string(res[:]) != string(ai.EUTRAN[0].XRES) {
			t.Fatal("XRES is not from the delivered keys")
		}
		if _, err := e.st.GetBinding(provCtx, d.guest); !errors.Is(err, rcm.ErrNoBinding) {
			t.Fatalf("guest binding after the swap: %v", err)
		}
		if ss, err := e.ps.ListSessions(provCtx, providerB); err != nil || len(ss) != 1 || ss[0].State != rcm.StateSwapped {
			t.Fatalf("provider b's sessions: %v, %v", ss, err)
		}
		if ss, err := e.ps.ListSessions(provCtx, providerA); err != nil || len(ss) != 0 {
			t.Fatalf("provider a's sessions: %v, %v", ss, err)
		}
	})
	t.Run("pre-registered and renewed", func(t *testing.T) {
		e, _ := newRedisEnv(t, addr)
		e.provider(t, providerA, "meters-acme", "0010100000000", "")
		d := e.device(t, 51)
		if err := e.ps.PutPreRegistration(provCtx, rcm.PreRegistration{IMEI: d.cd.IMEI, ProviderID: providerA, OfferID: "plan-" + providerA,
			ValidUntil: e.clock().Add(-time.Minute), RenewFor: time.Hour}); err != nil {
			t.Fatal(err)
		}
		v, err := e.prov.Start(provCtx, d.start(t))
		if err != nil || !v.PreRegistered {
			t.Fatalf("start: %+v, %v", v, err)
		}
		d.open(t, v)
		if r, err := e.ps.GetPreRegistration(provCtx, d.cd.IMEI); err != nil || r.Renewals != 1 {
			t.Fatalf("pre-registration: %+v, %v", r, err)
		}
	})
	t.Run("no provider", func(t *testing.T) {
		e, _ := newRedisEnv(t, addr)
		d := e.device(t, 52)
		if _, err := e.prov.Start(provCtx, d.start(t)); !errors.Is(err, rcm.ErrNoProviderAvailable) {
			t.Fatalf("start: %v", err)
		}
		if len(e.det.detached()) != 1 {
			t.Fatal("not detached")
		}
	})
	t.Run("never confirmed expires and returns the IMSI", func(t *testing.T) {
		e, n2 := newRedisEnv(t, addr)
		e.provider(t, providerA, "meters-acme", "0010100000000", "")
		d := e.device(t, 53)
		v, err := e.prov.Start(provCtx, d.start(t))
		if err != nil {
			t.Fatal(err)
		}
		v, err = e.prov.Accept(provCtx, d.accept(t, v.ID, v.Offer.ID, ""))
		if err != nil {
			t.Fatal(err)
		}
		c := d.open(t, v)
		e.advance(rcm.DefaultProvisioningConfig().SessionLifetime + time.Second)
		if n, err := n2.prov.ExpireSessions(provCtx, 10); err != nil || n != 1 {
			t.Fatalf("expire on node 2: %d, %v", n, err)
		}
		if n, err := e.prov.ExpireSessions(provCtx, 10); err != nil || n != 0 {
			t.Fatalf("second sweep on node 1: %d, %v", n, err)
		}
		got, err := e.ps.AllocateNumber(provCtx, providerA, rcm.PoolIMSI, []rcm.NumberRange{{First: "001010000000001", Last: "001010000000003"}})
		if err != nil || got != string(c.IMSI) {
			t.Fatalf("next allocation %q, %v; want the returned %s", got, err, c.IMSI)
		}
	})
}

// TestProvisioningHTTPOnRedisTwoNodes: two provisioning servers, each on its
// own node's connections to one redis-server; the device starts on one and
// finishes on the other over mutual TLS.
func TestProvisioningHTTPOnRedisTwoNodes(t *testing.T) {
	addr := redistest.Start(t)
	e, n2 := newRedisEnv(t, addr)
	e.provider(t, providerA, "meters-acme", "0010100000000", "")
	e.provider(t, providerB, "meters-beta", "0010200000000", "")
	serve := func(p *rcm.Provisioner) (*httptest.Server, *x509.CertPool) {
		cert, pool := serverIdentity(t, time.Now())
		srv := httptest.NewUnstartedServer(rcm.NewProvisioningHandler(p, slog.New(slog.DiscardHandler)))
		srv.TLS = rcm.ProvisioningTLSConfig(cert)
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv, pool
	}
	s1, r1 := serve(e.prov)
	s2, r2 := serve(n2.prov)
	d := e.device(t, 54)
	c1, c2 := d.client(r1), d.client(r2)
	st := d.start(t)
	var v rcm.SessionView
	if code, pe := call(t, c1, "POST", s1.URL+"/v1/sessions", rcm.StartSessionJSON{GuestIMSI: string(st.GuestIMSI), HPKEKey: st.HPKEKey,
		HPKESignature: st.HPKESignature}, &v); code != http.StatusCreated || v.Offer == nil {
		t.Fatalf("start on node 1: %d %+v", code, pe)
	}
	if code, pe := call(t, c2, "POST", s2.URL+"/v1/sessions/"+v.ID+"/decline", rcm.DeclineJSON{OfferID: v.Offer.ID}, &v); code != http.StatusOK || v.Offer.ProviderID != providerB {
		t.Fatalf("decline on node 2: %d %+v", code, pe)
	}
	acc := d.accept(t, v.ID, v.Offer.ID, "")
	var a1, a2 rcm.SessionView
	if code, pe := call(t, c2, "POST", s2.URL+"/v1/sessions/"+v.ID+"/accept", rcm.AcceptJSON{OfferID: v.Offer.ID, Signature: acc.Signature}, &a2); code != http.StatusOK {
		t.Fatalf("accept on node 2: %d %+v", code, pe)
	}
	if code, pe := call(t, c1, "POST", s1.URL+"/v1/sessions/"+v.ID+"/accept", rcm.AcceptJSON{OfferID: v.Offer.ID, Signature: acc.Signature}, &a1); code != http.StatusOK ||
		string(a1.Sealed) != string(a2.Sealed) {
		t.Fatalf("retried accept on node 1: %d %+v", code, pe)
	}
	creds := d.open(t, a1)
	var done rcm.SessionView
	if code, pe := call(t, c1, "POST", s1.URL+"/v1/sessions/"+v.ID+"/confirm", nil, &done); code != http.StatusOK || done.State != rcm.StateSwapped {
		t.Fatalf("confirm on node 1: %d %+v", code, pe)
	}
	if sub, err := n2.hss.GetSubscriber(provCtx, creds.IMSI); err != nil || sub.K != creds.K {
		t.Fatalf("node 2's HSS after the swap: %v", err)
	}
}

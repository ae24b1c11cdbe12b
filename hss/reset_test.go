package hss_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rcmhss/rcmhss/hss"
	"github.com/rcmhss/rcmhss/hss/memstore"
)

// resetRecorder is a SubscriberObserver that also implements ResetObserver,
// as the S6a application does.
type resetRecorder struct {
	mu     sync.Mutex
	resets []hss.ResetRequest
}

func (r *resetRecorder) SubscriberUpdated(context.Context, *hss.Subscriber, *hss.Subscriber, hss.Registrations) {
}
func (r *resetRecorder) SubscriberDeleted(context.Context, *hss.Subscriber, hss.Registrations) {}

func (r *resetRecorder) OnReset(_ context.Context, req hss.ResetRequest) []hss.ResetOutcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resets = append(r.resets, req)
	return []hss.ResetOutcome{
		{Application: "S6a", Node: "mme1.test"},
		{Application: "S6a", Node: "mme2.test", Err: errors.New("no answer")},
	}
}

func (r *resetRecorder) calls() []hss.ResetRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.resets)
}

// plainObserver knows nothing of Reset: HSS.Reset must leave it alone.
type plainObserver struct{ called bool }

func (p *plainObserver) SubscriberUpdated(context.Context, *hss.Subscriber, *hss.Subscriber, hss.Registrations) {
	p.called = true
}
func (p *plainObserver) SubscriberDeleted(context.Context, *hss.Subscriber, hss.Registrations) {
	p.called = true
}

func newResetHSS(t *testing.T) (*hss.HSS, *resetRecorder, *plainObserver) {
	t.Helper()
	st := memstore.New(hss.NewPlaintextSealer())
	t.Cleanup(func() { _ = st.Close() })
	h, err := hss.New(hss.DefaultConfig(), st)
	if err != nil {
		t.Fatal(err)
	}
	rec, plain := &resetRecorder{}, &plainObserver{}
	h.AddObserver(plain)
	h.AddObserver(rec)
	return h, rec, plain
}

func TestResetNotifiesResetObservers(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"all subscribers", nil, nil},
		{"empty list is all", []string{}, nil},
		{"mcc and two-digit mnc", []string{"00101"}, []string{"00101"}},
		{"several, duplicates once, order kept", []string{"310260", "00101", "310260", "001010000000001"}, []string{"310260", "00101", "001010000000001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, rec, plain := newResetHSS(t)
			out, err := h.Reset(context.Background(), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			calls := rec.calls()
			if len(calls) != 1 {
				t.Fatalf("%d OnReset calls, want 1", len(calls))
			}
			if !slices.Equal(calls[0].UserIDs, tc.want) {
				t.Errorf("UserIDs %q, want %q", calls[0].UserIDs, tc.want)
			}
			if len(out) != 2 || out[0].Node != "mme1.test" || out[0].Err != nil || out[1].Node != "mme2.test" || out[1].Err == nil {
				t.Errorf("outcomes %+v, want the observer's two", out)
			}
			if plain.called {
				t.Error("an observer without OnReset was called")
			}
		})
	}
}

func TestResetRefusesBadUserIDs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []string
		field string
		text  string // part of the message: the value, or its length
	}{
		{"empty string", []string{"00101", ""}, "user_ids[1]", `""`},
		{"shorter than mcc+mnc", []string{"0010"}, "user_ids[0]", `"0010"`},
		{"letters", []string{"0010a"}, "user_ids[0]", `"0010a"`},
		{"sign", []string{"+00101"}, "user_ids[0]", `"+00101"`},
		{"space", []string{"00101 "}, "user_ids[0]", `"00101 "`},
		{"longer than an imsi", []string{"0010100000000001"}, "user_ids[0]", "of 16 characters"},
		{"key-shaped, not echoed", []string{"465b5ce8b199b49faa5f0a2ee238a6bc"}, "user_ids[0]", "of 32 characters"},
		{"too many", slices.Repeat([]string{"00101"}, hss.MaxResetUserIDs+1), "user_ids", "at most 256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, rec, _ := newResetHSS(t)
			_, err := h.Reset(context.Background(), tc.in)
			if !errors.Is(err, hss.ErrInvalidInput) {
				t.Fatalf("err %v, want ErrInvalidInput", err)
			}
			var ve *hss.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("err %v, want a ValidationError on %s", err, tc.field)
			}
			if !strings.Contains(err.Error(), tc.text) || !strings.HasPrefix(err.Error(), "hss: reset: ") {
				t.Errorf("err %q does not say %s", err, tc.text)
			}
			if strings.Contains(err.Error(), "465b5ce8") {
				t.Errorf("err %q echoes a key-shaped value", err)
			}
			if n := len(rec.calls()); n != 0 {
				t.Errorf("%d OnReset calls after invalid input, want 0", n)
			}
		})
	}
}

func TestResetWithoutResetObserver(t *testing.T) {
	st := memstore.New(hss.NewPlaintextSealer())
	t.Cleanup(func() { _ = st.Close() })
	h, err := hss.New(hss.DefaultConfig(), st)
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Reset(context.Background(), []string{"00101"})
	if err != nil || len(out) != 0 {
		t.Fatalf("Reset = %v, %v; want no outcome and no error", out, err)
	}
}

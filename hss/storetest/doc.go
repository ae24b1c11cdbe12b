// Package storetest is the conformance suite every hss.Store implementation
// passes: subscriber CRUD and paging, SQN reservation and resynchronisation as
// documented on hss.SQNStore (TS 33.102 6.3.5, Annex C.1.2, C.2.2, C.3),
// serving-node registrations (TS 29.272 5.2.1.1, TS 29.273 8.1.2.2) and
// atomicity under concurrent callers. Store packages call Run from their tests
// with a constructor for a fresh, empty store.
package storetest
